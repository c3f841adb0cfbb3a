"""Deploy bundles: the artifact, a manifest with sha256 of every file, predict.py, a README,
requirements.txt and (once measured) measurements.json.

`deploy/<target>/<model>-<precision>/` is rebuilt from cached stages on every run, written
to a temporary folder and swapped into place, so a bundle is always whole.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import edgekd
from edgekd.deploy.bundlecheck import MANIFEST, SCHEMA
from edgekd.deploy.measured import MEASUREMENTS, measurements
from edgekd.errors import ArtifactError
from edgekd.fsutil import replace_dir, write_json_atomic
from edgekd.hashing import sha256_file


def write_bundle(
    run_dir: Path,
    target,
    backend,
    m,
    precision: str,
    comp,
    data,
    exp,
    profile=None,
    note: str = "",
) -> Path:
    """Write (or rewrite, once `profile` has measured it) one bundle, whole or not at all.

    `profile` is the profile stage's result: its figures go to measurements.json and the
    README, both hashed in the manifest like every other file. `note` says why a bundle is not
    measured (its runtime is not here, its device was unreachable)."""
    final = Path(run_dir) / "deploy" / target.name / f"{m.label}-{precision}"
    tmp = final.with_name(f".tmp-{final.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for f in comp.info["files"]:
            shutil.copyfile(comp.path / f, tmp / f)
        manifest = manifest_for(target, backend, m, precision, comp, data, exp)
        manifest |= tuned_record(profile.info) if profile is not None else {}
        measured = measurements(profile, target.host) if profile is not None else None
        write_guides(tmp, backend, manifest, measured, note)
        manifest["files"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
        write_json_atomic(tmp / MANIFEST, manifest)
        replace_dir(tmp, final)
    except BaseException:  # a full disk, a kill: no half-built bundle stays behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def write_guides(folder: Path, backend, manifest: dict, measured: dict | None, note: str):
    """predict.py, requirements.txt, measurements.json and README.md: what a device engineer
    needs beside the artifact, from the runtime's predict template and the records."""
    from edgekd.deploy.compose import TemplateNotes, compose, notes
    from edgekd.deploy.readme import bundle_readme
    from edgekd.deploy.requirements import requirements_txt

    template = backend.predict_script()
    text = template.read_text() if template is not None else None
    told = notes(text) if text is not None else TemplateNotes(tuple(backend.packages), "")
    if text is not None:
        (folder / "predict.py").write_text(compose(text, device_built()))
    versions = {**(measured or {}).get("versions", {}), **manifest["versions"]}
    images = _is_image(manifest.get("preprocessing"))
    (folder / "requirements.txt").write_text(requirements_txt(told.requires, versions, images))
    if measured is not None:
        (folder / MEASUREMENTS).write_text(json.dumps(measured, indent=2) + "\n")
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    readme = bundle_readme(manifest, sizes, measured, note, told.device_readme)
    (folder / "README.md").write_text(readme)


def _is_image(prep) -> bool:
    return isinstance(prep, dict) and prep.get("kind") == "image"


def manifest_for(target, backend, m, precision: str, comp, data, exp) -> dict:
    """What a bundle's loaders, predict.py and readers need; the sha256 of every file is
    added once all are written."""
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
        "files": {},  # filled in once every file is written
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


def tuned_record(info: dict) -> dict:
    """The settings tuning chose (what predict.py and `load_bundle` run with: threads capped
    at the CPUs where they run), and the machine they were chosen on; {} untuned."""
    tuned = info.get("tuned_settings")
    if not tuned:
        return {}
    env, tuning = info.get("environment") or {}, info.get("tuning") or {}
    on = {
        "cpu": env.get("cpu"),
        "cpus": env.get("cpus"),
        "host": env.get("hostname"),
        "candidates": len(tuning.get("candidates") or []) or 1,
        "p90_ms": (info.get("latency_rounds") or {}).get("p90_median_ms"),
    }
    return {"tuned_settings": tuned, "tuned_on": on}


def verify_bundle(path: Path) -> dict:
    """Check the bundle against its manifest before anything is loaded (`bundlecheck`: the
    same code every predict.py runs); returns the manifest."""
    from edgekd.deploy.bundlecheck import BundleError, check_bundle

    try:
        return check_bundle(Path(path), device_built())
    except BundleError as exc:
        raise ArtifactError(str(exc)) from None


def device_built() -> dict[str, list[str]]:
    """Per runtime, the files a bundle may gain on the device, unhashed (a TensorRT engine)."""
    from edgekd.backends import BACKENDS

    return {n: list(c.built_on_device) for n, c in BACKENDS.items() if c.built_on_device}


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
    settings = bundle_settings(manifest)
    if settings is not None:
        backend = backend.with_settings(settings)
    return manifest, backend.load(Path(path))


def bundle_settings(manifest: dict):
    """The manifest's tuned settings, threads capped at the CPUs here; None untuned."""
    from edgekd.backends.base import default_threads
    from edgekd.records import RuntimeSettings

    tuned = manifest.get("tuned_settings")
    if not tuned:
        return None
    settings = RuntimeSettings.model_validate(tuned)
    return settings.model_copy(update={"threads": min(settings.threads, default_threads())})
