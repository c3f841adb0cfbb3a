"""Turn a predict template into a bundle's predict.py that needs nothing of edgekd.

A template names edgekd files to copy in with `# @include <path under edgekd/>` lines (the
bundle check, the shared command line, TensorRT's engine runner), so a bundle checks itself
with exactly the code `edgekd verify` runs, and imports nothing from its own folder. In an
included file, `from __future__` lines and blocks between `# @standalone-only` and
`# @end-standalone-only` (what only makes sense when the file runs on its own) are left out;
the line `LATER = {}` becomes the files each runtime may add to a bundle on its device.

A template also says what its bundle needs, so everything runtime-specific stays in one file:
`# @requires <package>[<bound>]` lines become requirements.txt, and the comment block between
`# @readme-begin` and `# @readme-end` becomes the device section of the bundle's README.md.
Neither is copied into predict.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import edgekd

PACKAGE = Path(edgekd.__file__).resolve().parent
INCLUDE = "# @include "
REQUIRES = "# @requires "
README_BEGIN, README_END = "# @readme-begin", "# @readme-end"
LATER_LINE = "LATER = {}"


@dataclass(frozen=True)
class TemplateNotes:
    """What a template says about its bundle, beside the code."""

    requires: tuple[str, ...]  # requirement lines, e.g. "onnxruntime", "numpy>=1.24"
    device_readme: str  # markdown, with $placeholders (string.Template)


def compose(template: str, later: dict[str, list[str]]) -> str:
    out = []
    for line in _code_lines(template):
        if line.startswith(INCLUDE):
            rel = line[len(INCLUDE) :].strip()
            out.append(f"# ---- copied from edgekd {edgekd.__version__}: edgekd/{rel} ----")
            out.append(included(rel))
            out.append(f"# ---- end of edgekd/{rel} ----")
        elif line.startswith(LATER_LINE):
            out.append(f"LATER = {dict(sorted(later.items()))!r}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _code_lines(template: str) -> list[str]:
    """The template without its notes to edgekd (requirements, README section)."""
    kept, in_readme = [], False
    for line in template.splitlines():
        if line.strip() == README_BEGIN:
            in_readme = True
        elif line.strip() == README_END:
            in_readme = False
        elif not in_readme and not line.startswith(REQUIRES):
            kept.append(line)
    return kept


def notes(template: str) -> TemplateNotes:
    """The template's requirement lines and the device section of its README."""
    requires, readme, in_readme = [], [], False
    for line in template.splitlines():
        stripped = line.strip()
        if stripped == README_BEGIN:
            in_readme = True
        elif stripped == README_END:
            in_readme = False
        elif in_readme:
            readme.append(stripped[2:] if stripped.startswith("# ") else stripped.lstrip("#"))
        elif line.startswith(REQUIRES):
            requires.append(line[len(REQUIRES) :].strip())
    return TemplateNotes(tuple(requires), "\n".join(readme).strip())


def included(rel: str) -> str:
    """An edgekd source file, as it reads inside a standalone script."""
    path = (PACKAGE / rel).resolve()
    if PACKAGE not in path.parents or path.suffix != ".py":
        raise ValueError(f"a predict template may include only edgekd's own .py files: {rel}")
    kept, skipping = [], False
    for line in path.read_text().splitlines():
        marker = line.strip()
        if marker == "# @standalone-only":
            skipping = True
        elif marker == "# @end-standalone-only":
            skipping = False
        elif not skipping and not line.startswith("from __future__"):
            kept.append(line)
    return "\n".join(kept).strip("\n")
