"""Deploy bundles: the artifact, a manifest with sha256 of every file, and predict.py.

`deploy/<target>/<model>-<precision>/` is rebuilt from cached stages on every run, written
to a temporary folder and swapped into place, so a bundle is always whole.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import edgekd
from edgekd.errors import ArtifactError
from edgekd.fsutil import replace_dir, write_json_atomic
from edgekd.hashing import sha256_file

SCHEMA = "edgekd.bundle/1"
MANIFEST = "manifest.json"
REQUIRED = ("runtime", "artifact", "target", "precision", "input")  # what loaders read


def write_bundle(run_dir: Path, target, backend, m, precision: str, comp, data, exp) -> Path:
    final = Path(run_dir) / "deploy" / target.name / f"{m.label}-{precision}"
    tmp = final.with_name(f".tmp-{final.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in comp.info["files"]:
        shutil.copyfile(comp.path / f, tmp / f)
    script = backend.predict_script()
    if script is not None:
        (tmp / "predict.py").write_bytes(script.read_bytes())
    manifest = manifest_for(tmp, target, backend, m, precision, comp, data, exp)
    write_json_atomic(tmp / MANIFEST, manifest)
    replace_dir(tmp, final)
    return final


def manifest_for(folder: Path, target, backend, m, precision: str, comp, data, exp) -> dict:
    """What a bundle's loaders, predict.py and readers need, with the sha256 of every file."""
    info = m.stage.info
    shape = info.get("input_shape", data.info["input_shape"])  # a model's own view
    return {
        "schema": SCHEMA,
        "model": m.label,
        "role": str(m.role),
        "target": target.name,
        "runtime": target.runtime,
        "precision": precision,
        "artifact": comp.info.get("artifact", backend.artifact),
        "files": {p.name: sha256_file(p) for p in sorted(folder.iterdir())},
        # written later on the device itself (e.g. an engine): allowed, never hash-checked
        "built_on_device": comp.info.get("built_on_device", []),
        "input": {"name": "input", "shape": [None, *shape], "dtype": "float32"},
        "output": {"name": "logits", "shape": [None, info["num_classes"]]},
        "preprocessing": data.info["preprocessing"],
        "labels": data.info["labels"],
        "architecture": {"model": info["model"], "options": info["options"]},
        "lineage": {
            "model_stage": m.stage.path.name,
            "model_hash": m.stage.content_hash,
            "export_stage": exp.path.name,
            "compile_stage": comp.path.name,
            "data_hash": data.content_hash,
        },
        "versions": {"edgekd": edgekd.__version__, **comp.info.get("versions", {})},
        "compile": {k: v for k, v in comp.info.items() if k not in ("files", "versions")},
        "target_config": target.model_dump(mode="json"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def verify_bundle(path: Path) -> dict:
    """Check every file against the manifest's sha256 before anything is loaded."""
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest["files"]
    later = device_built(manifest)
    unlisted = sorted(
        p.name
        for p in path.iterdir()
        if p.name != MANIFEST and p.name not in files and p.name not in later
    )
    if unlisted:
        raise ArtifactError(
            f"bundle '{path}': {unlisted} not listed in {MANIFEST}, so they cannot be verified. "
            "Refusing to load it; rebuild or re-copy the bundle."
        )
    for name, digest in files.items():
        f = path / name
        if Path(name).name != name or not f.is_file():
            raise ArtifactError(
                f"bundle '{path}': file '{name}' listed in the manifest is "
                "missing or outside the bundle. Rebuild or re-copy the bundle."
            )
        if sha256_file(f) != digest:
            raise ArtifactError(
                f"bundle '{path}': '{name}' does not match its sha256 in the "
                "manifest; it was changed or damaged. Refusing to load it."
            )
    return manifest


def read_manifest(path: Path) -> dict:
    """The bundle's manifest, checked for the keys loaders read."""
    mf = path / MANIFEST
    if not mf.is_file():
        raise ArtifactError(f"'{path}' is not a deploy bundle: it has no {MANIFEST}.")
    try:
        manifest = json.loads(mf.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        files = None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ArtifactError(f"'{mf}' is not a valid edgekd manifest. Rebuild the bundle.")
    missing = [k for k in REQUIRED if k not in manifest]
    shape = manifest.get("input", {}).get("shape") if isinstance(manifest.get("input"), dict) else 0
    if missing or not isinstance(shape, list):
        raise ArtifactError(
            f"'{mf}' is not a complete edgekd manifest (missing {missing or ['input.shape']}); "
            "it was edited or written by an older edgekd. Rebuild the bundle."
        )
    return manifest


def device_built(manifest: dict) -> set[str]:
    """Files a bundle may gain on the device, unhashed: those its manifest lists, limited to
    what its runtime's backend builds there."""
    from edgekd.backends import BACKENDS

    later, runtime = manifest.get("built_on_device") or [], manifest.get("runtime")
    if not isinstance(later, list) or not isinstance(runtime, str) or runtime not in BACKENDS:
        return set()
    return set(later) & set(BACKENDS.get(runtime).built_on_device)


def verified(path: Path) -> Path:
    """`path` after its manifest checks out: use it wherever a bundle is about to be loaded."""
    verify_bundle(path)
    return Path(path)


def load_bundle(path: Path):
    """Verify a bundle, then load its artifact with the backend its manifest names.

    Returns (manifest, runner). The target settings come from the manifest, so a bundle
    copied to another machine loads the same way it was built.
    """
    from edgekd.backends import BACKENDS
    from edgekd.config.schema import TargetConfig
    from edgekd.config.validate import validate

    manifest = verify_bundle(path)
    if "target_config" not in manifest:
        raise ArtifactError(f"bundle '{path}' predates target records; rebuild it.")
    target = validate(TargetConfig, manifest["target_config"], f"{path}/{MANIFEST}")
    backend = BACKENDS.get(target.runtime)(target)
    return manifest, backend.load(Path(path))
