"""Regenerate docs/plugins.md from the plugin registries (see edgekd/catalog.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekd.catalog import markdown  # noqa: E402

if __name__ == "__main__":
    (ROOT / "docs" / "plugins.md").write_text(markdown())
    print("wrote docs/plugins.md")
