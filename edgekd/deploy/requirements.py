"""A bundle's requirements.txt: the runtime its predict.py needs, at the versions that built
and measured it, so a clean environment on another machine runs the same code.

The package names come from the predict template (`# @requires` lines); a bare name is pinned
to the version recorded in the manifest or the measurement (else the one installed here, which
built it); a name with a bound (numpy>=1.24) keeps its bound, since any later numpy will do.
"""

from __future__ import annotations

import re
from importlib import metadata

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
TORCH_CPU = "https://download.pytorch.org/whl/cpu"


def requirements_txt(requires: list[str], versions: dict[str, str], images: bool) -> str:
    """The file's text: one requirement a line, with why each version was chosen."""
    lines = [
        "# What predict.py needs: pip install -r requirements.txt",
        "# Bare names are pinned (==) to the versions that built and measured this bundle.",
    ]
    for req in requires:
        lines.append(_line(req, versions))
    if images:
        lines.append("pillow>=9  # only to classify image files (PNG/JPEG)")
    if any(_name(r) == "torch" for r in requires):
        lines.append(
            "# torch is needed only for its tensor type; the CPU build is smaller: "
            f"pip install -r requirements.txt --extra-index-url {TORCH_CPU}"
        )
    return "\n".join(lines) + "\n"


def _line(req: str, versions: dict[str, str]) -> str:
    name = _name(req)
    version = versions.get(name) or _installed(name)
    if req != name:  # a bound of the template's own: keep it, say what built the bundle
        return f"{req}  # built with {name} {version}" if version else req
    return f"{name}=={_public(version)}" if version else name


def _name(req: str) -> str:
    m = NAME.match(req)
    return m.group(0).lower() if m else req


def _public(version: str) -> str:
    """`2.13.0+cpu` -> `2.13.0`: a local label is not on PyPI, and `==2.13.0` matches it."""
    return version.split("+", 1)[0]


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
