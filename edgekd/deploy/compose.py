"""Turn a predict template into a bundle's predict.py that needs nothing of edgekd.

A template names edgekd files to copy in with `# @include <path under edgekd/>` lines (the
bundle check, the shared command line, TensorRT's engine runner), so a bundle checks itself
with exactly the code `edgekd verify` runs, and imports nothing from its own folder. In an
included file, `from __future__` lines and blocks between `# @standalone-only` and
`# @end-standalone-only` (what only makes sense when the file runs on its own) are left out;
the line `LATER = {}` becomes the files each runtime may add to a bundle on its device.
"""

from __future__ import annotations

from pathlib import Path

import edgekd

PACKAGE = Path(edgekd.__file__).resolve().parent
INCLUDE = "# @include "
LATER_LINE = "LATER = {}"


def compose(template: str, later: dict[str, list[str]]) -> str:
    out = []
    for line in template.splitlines():
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
