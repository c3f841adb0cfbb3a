"""The stage functions: each takes typed config and input artifacts and fills one folder.

One module per stage kind (data, train, export, compile, profile), so that a stage's cache
key can cover exactly the code that stage runs (see `edgekd.store`). The engine wraps each
function in `StageStore.run`, which decides whether it needs to run at all.
"""

# The code each stage kind runs: its module (and, through edgekd.codegraph, everything that
# imports), plus the modules of objects the engine hands it ready-made (a backend, a model
# rebuilt from a stage record). engine.py only wires configs to these functions; a stage's
# computation lives here, so a change to the report, CLI or engine reuses every stage.
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "data": ("edgekd.stages.data",),
    "transfer": ("edgekd.stages.data",),
    "train": ("edgekd.stages.train",),
    "teacher": ("edgekd.stages.train",),
    "distill": ("edgekd.stages.train",),
    "search": ("edgekd.search.recipe",),  # trials distil through the schemes and trainer
    "reference": ("edgekd.stages.reference",),  # the teacher's test logits, for agreement
    # a student search (edgekd.search.student): untrained candidates timed on the target
    # (export, compile and the profile worker, as those stages run them), then short trials
    "probe": ("edgekd.search.probe", "edgekd.profile.worker", "edgekd.backends", "edgekd.store"),
    "student-trial": ("edgekd.search.trial",),
    "export": ("edgekd.stages.export", "edgekd.stages.models"),
    "compile": ("edgekd.stages.compile", "edgekd.stages.models", "edgekd.backends"),
    # int8 recovery: the int8 path plugins (edgekd.quant.paths) and the backends they call
    "qat": ("edgekd.stages.qat", "edgekd.stages.models", "edgekd.backends", "edgekd.quant"),
    "mixed": ("edgekd.stages.qat", "edgekd.stages.models", "edgekd.backends", "edgekd.quant"),
    # the worker runs in a subprocess (`python -m edgekd.profile.worker`), not by import
    "profile": (
        "edgekd.stages.profile",
        "edgekd.profile.worker",
        "edgekd.backends",
        "edgekd.store",
    ),
}
