"""A reference to the user's own code: `path/to/file.py:fn` or `package.module:fn`.

A leaf like edgekd.config.schema (it imports only pydantic and the UserFile type), so the
schema, plugins and the profiling worker can all import it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from edgekd.config.schema import UserFile

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CODE_REF = re.compile(rf"(?P<where>.+):(?P<name>{_IDENT})")
_MODULE = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")


def is_code_ref(text: str) -> bool:
    """Whether a `model:`/`factory:` string names the user's code rather than a registered
    name: `path/to/file.py:fn` or `package.module:fn` (registered names hold no ':')."""
    return isinstance(text, str) and (":" in text or text.endswith(".py"))


class CodeRef(BaseModel):
    """The user's own factory: `path/to/file.py:fn` (a UserFile, resolved against the
    pipeline's folder and hashed by content) or `package.module:fn` (imported as usual).
    Naming it in a pipeline runs that code, as Olive's model script does."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: UserFile | None = None
    module: str | None = None
    name: str

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        m = _CODE_REF.fullmatch(value.strip())
        if m is None:
            raise ValueError(
                f"'{value}' is not a factory reference; write path/to/file.py:function or "
                "package.module:function"
            )
        where = m["where"]
        if where.endswith(".py"):
            return {"file": where, "name": m["name"]}
        if not _MODULE.fullmatch(where):
            raise ValueError(
                f"'{where}' is neither a .py file nor a dotted module name; write "
                "path/to/file.py:function or package.module:function"
            )
        return {"module": where, "name": m["name"]}

    @model_validator(mode="after")
    def _one(self) -> CodeRef:
        if (self.file is None) == (self.module is None):
            raise ValueError("give exactly one of `file` or `module`")
        return self

    def __str__(self) -> str:
        return f"{self.file if self.file is not None else self.module}:{self.name}"
