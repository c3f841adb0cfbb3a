"""A bundle's README.md, for the engineer who takes the folder away without edgekd: what the
model is, its input and output, its preprocessing as numbers, the runtime settings, what was
measured (where, when, on what), how to run it, and how to run it on the device itself.

Everything comes from the manifest and measurements.json (the same facts, for a reader), and
the device section from the runtime's predict template, so nothing here names a runtime.
"""

from __future__ import annotations

import json
from string import Template

from edgekd.deploy.readme_parts import (
    how_to_run,
    io_section,
    measured_section,
    preprocessing_section,
    settings_section,
)

ROLES = {
    "teacher": "The teacher",
    "baseline": "A student trained from scratch (the baseline: same recipe, no teacher)",
    "distilled": "A distilled student",
}
FILES = {
    "predict.py": "runs the model on .npy or image files; checks the bundle first",
    "requirements.txt": "what predict.py needs, at the versions that built and measured it",
    "README.md": "this file",
    "measurements.json": "the measured figures below, as numbers, with their provenance",
    "manifest.json": "sha256 of every file, input and output spec, labels, lineage, versions",
}


def bundle_readme(
    manifest: dict, sizes: dict[str, int], measured: dict | None, note: str, device: str
) -> str:
    """The README's text; `sizes` are the bundle's other files, `note` why it is unmeasured."""
    parts = [
        about(manifest),
        files_section(manifest, sizes),
        io_section(manifest),
        preprocessing_section(manifest.get("preprocessing")),
        settings_section(manifest, measured),
        measured_section(manifest, measured, note, sizes),
        how_to_run(manifest, "predict.py" in sizes),
        device_section(device, manifest),
        "## Checking the bundle\n\nmanifest.json lists the sha256 of every file, this README "
        "included. predict.py checks them all before it loads anything and refuses a changed "
        "or unlisted file; `edgekd verify <this folder>` runs the same check, then the model "
        "once.",
    ]
    return "\n\n".join(p for p in parts if p).rstrip() + "\n"


def about(m: dict) -> str:
    arch = m.get("architecture") or {}
    options = json.dumps(arch.get("options", {}), sort_keys=True)
    role = ROLES.get(str(m.get("role")), f"A model ({m.get('role', 'unknown role')})")
    tc = m.get("target_config") or {}
    quant = ((m.get("compile") or {}).get("quantization") or {}).get("method")
    precision = m["precision"] + (f" ({quant})" if quant else "")
    described = f": {tc['description']}" if tc.get("description") else ""
    lineage = m.get("lineage") or {}
    return (
        f"# {m.get('model', 'model')} for {m['target']} ({m['precision']})\n\n"
        f"{role}, `{arch.get('model', '?')}` with options `{options}`, compiled for "
        f"{m['runtime']} (target `{m['target']}`{described}) at {precision}. Built by edgekd "
        f"{(m.get('versions') or {}).get('edgekd', '?')} on {m.get('created', '?')} from "
        f"model stage `{lineage.get('model_stage', '?')}` and data "
        f"`{str(lineage.get('data_hash', '?'))[:16]}`."
    )


def files_section(m: dict, sizes: dict[str, int]) -> str:
    rows = ["## Files", "", "| file | size | what |", "|---|---|---|"]
    names = sorted(set(sizes) | {"README.md", "manifest.json"})
    for name in names:
        what = "the model: the artifact to ship" if name == m["artifact"] else FILES.get(name)
        size = f"{sizes[name] / 1024:.1f} KB" if name in sizes else ""
        rows.append(f"| `{name}` | {size} | {what or 'part of the artifact or its build'} |")
    for name in m.get("built_on_device") or []:
        rows.append(f"| `{name}` | | built on the device (not hashed; see below) |")
    return "\n".join(rows)


def device_section(device: str, m: dict) -> str:
    """The template's device notes, with the bundle's own names and shapes filled in."""
    if not device:
        return ""
    shape = [1, *m["input"]["shape"][1:]]
    numel = 1
    for d in shape:
        numel *= d
    values = {
        "artifact": m["artifact"],
        "input_shape": str(shape),
        "cpp_shape": ", ".join(map(str, shape)),
        "numel": str(numel),
        "classes": str((m.get("output") or {}).get("shape", [None, "?"])[1]),
    }
    for name, version in (m.get("versions") or {}).items():
        key = name.replace("-", "_")
        values[f"{key}_version"] = version
        values[f"{key}_series"] = ".".join(version.split(".")[:2])
    return Template(device).safe_substitute(values)
