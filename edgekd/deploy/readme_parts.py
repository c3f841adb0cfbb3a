"""The sections of a bundle's README.md that turn records into numbers a reader can use:
input/output, preprocessing, runtime settings, measured figures, and how to run it."""

from __future__ import annotations

import json

MAX_LABELS_SHOWN = 50
MAX_SETTINGS = 40


def io_section(m: dict) -> str:
    inp, out = m["input"], m.get("output") or {}
    dims = ", ".join(str(d) for d in inp["shape"][1:])
    classes = (out.get("shape") or [None, "?"])[1]
    batch = ((m.get("target_config") or {}).get("runtime_options") or {}).get("max_batch")
    lines = [
        "## Input and output",
        "",
        "| | name | shape | dtype |",
        "|---|---|---|---|",
        f"| input | `{inp.get('name', 'input')}` | [N, {dims}] | {inp.get('dtype', 'float32')} |",
        f"| output | `{out.get('name', 'logits')}` | [N, {classes}] | float32 |",
        "",
        f"N is the batch{f' (1 to {batch})' if batch else ''}. The output holds one logit per "
        "class; predict.py turns them into probabilities with a softmax.",
    ]
    labels = m.get("labels") or []
    if labels and len(labels) <= MAX_LABELS_SHOWN:
        lines += ["", "Classes: " + ", ".join(f"{i} = `{s}`" for i, s in enumerate(labels)) + "."]
    elif labels:
        lines += ["", f"{len(labels)} classes; their names are `labels` in manifest.json."]
    return "\n".join(lines)


def preprocessing_section(prep) -> str:
    """Image steps as numbers, in order; for other data, its text and any numbers it gives."""
    head = "## Preprocessing\n\n"
    if isinstance(prep, dict) and prep.get("kind") == "image":
        return head + _image_steps(prep)
    rest = {k: v for k, v in prep.items() if k != "text"} if isinstance(prep, dict) else {}
    if rest:
        rows = [f"| `{k}` | `{json.dumps(v)}` |" for k, v in rest.items()]
        table = "\n\n| step | value |\n|---|---|\n" + "\n".join(rows)
        return head + (prep.get("text") or "As recorded by the data stage:") + table
    text = (prep.get("text") if isinstance(prep, dict) else prep) or "none recorded"
    return head + (
        f"{text}\n\nThe data stage records this as text only (no image steps): give predict.py "
        "arrays already prepared this way, as the training arrays were."
    )


def _image_steps(p: dict) -> str:
    mode = "RGB" if p.get("channels", 3) == 3 else "L (grayscale)"
    resize = p.get("resize")
    if resize is None:
        resized = "none (the image keeps its size)"
    elif isinstance(resize, int):
        resized = f"shorter side to {resize} px, aspect ratio kept ({p.get('interpolation')})"
    else:
        resized = f"to {resize[0]} x {resize[1]} px (height x width, {p.get('interpolation')})"
    crop = p.get("crop")
    scale = p.get("scale", 1 / 255)
    steps = [
        ("decode", f"{p.get('decode', 'Pillow')}, converted to {mode}"),
        ("resize", resized),
        ("crop", f"center, {crop[0]} x {crop[1]} px" if crop else "none"),
        ("scale", f"x {scale:.10g} (1/{1 / scale:.6g}): pixel values to 0..1"),
        ("normalize", f"(x - mean) / std per channel, mean {p['mean']}, std {p['std']}")
        if p.get("mean") is not None
        else ("normalize", "none"),
        ("layout", f"{p.get('layout', 'NCHW')}, {p.get('dtype', 'float32')}"),
    ]
    rows = [f"| {i} | {name} | {what} |" for i, (name, what) in enumerate(steps, 1)]
    text = f"{p['text']}\n\n" if p.get("text") else ""
    return (
        text
        + "| # | step | value |\n|---|---|---|\n"
        + "\n".join(rows)
        + "\n\npredict.py applies exactly these steps to a PNG or JPEG file (with Pillow)."
    )


def settings_section(m: dict, measured: dict | None) -> str:
    """The settings the bundle runs with, as recorded: the target's, any tuned ones, how the
    artifact was compiled, and what the measurement ran with."""
    tc = m.get("target_config") or {}
    rows = [("threads (the target's ceiling)", tc.get("threads") or "the runtime's default")]
    rows += _flat("runtime_options", tc.get("runtime_options") or {})
    for key in sorted(k for k in m if k.startswith("tun")):
        rows += _flat(key, m[key]) if isinstance(m[key], dict) else [(key, m[key])]
    compiled = {k: v for k, v in (m.get("compile") or {}).items() if k not in ("bytes", "artifact")}
    rows += _flat("compile", compiled)
    for key in sorted(k for k in (measured or {}) if k.startswith("tun")):
        rows += _flat(f"profiled_{key}", measured[key])
    rows += _flat("profiled_with", (measured or {}).get("placement") or {})
    body = [f"| {name} | {_cell(value)} |" for name, value in rows[:MAX_SETTINGS]]
    hidden = len(rows) - MAX_SETTINGS
    more = f"\n\n{hidden} more in manifest.json." if hidden > 0 else ""
    return "## Runtime settings\n\n| setting | value |\n|---|---|\n" + "\n".join(body) + more


def _flat(prefix: str, value, depth: int = 0) -> list[tuple[str, object]]:
    if isinstance(value, dict) and depth < 2:
        out = []
        for k, v in value.items():
            out += _flat(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
        return out
    return [(prefix, value)]


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


def measured_section(m: dict, measured: dict | None, note: str, sizes: dict[str, int]) -> str:
    from edgekd.deploy.readme_figures import figures_table, provenance

    if not measured:
        why = note or "this bundle was written before it was profiled"
        return (
            f"## Measured\n\nNot measured: {why}. The run's report.md shows an estimate where "
            "the target publishes its specs."
        )
    return f"## Measured\n\n{figures_table(measured, sizes.get(m['artifact']))}\n\n" + provenance(
        measured
    )


def how_to_run(m: dict, has_predict: bool) -> str:
    if not has_predict:
        return (
            "## How to run\n\nThis runtime has no predict.py: load the artifact with its own "
            "runtime, feeding the input above."
        )
    dims = ", ".join(str(d) for d in m["input"]["shape"][1:])
    prep = m.get("preprocessing")
    images = isinstance(prep, dict) and prep.get("kind") == "image"
    image_line = "\n.venv/bin/python predict.py photo.jpg b.png       # PNG/JPEG files"
    image_line = image_line if images else ""
    return f"""## How to run

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/python predict.py --check                 # verify every file, load nothing
.venv/bin/python predict.py x.npy                   # x: [{dims}] or a batch [N, {dims}]
.venv/bin/python predict.py a.npy b.npy --top-k 3   # several files, 3 classes each
.venv/bin/python predict.py x.npy --json            # one JSON object per input
.venv/bin/python predict.py x_test.npy --labels y_test.npy   # accuracy only{image_line}
```

predict.py prints one line per input: its name (`x.npy[0]`), then the most probable classes
with their probabilities, e.g. `x.npy[0]  7 0.812  1 0.103  4 0.031` (a class with a name
reads `7:cat`). Exit status 2 means the bundle or an input was refused (the reason is on
stderr)."""
