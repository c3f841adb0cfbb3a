"""The stage functions: each takes typed config and input artifacts and fills one folder.

One module per stage kind (data, train, export, compile, profile), so that a stage's cache
key can cover exactly the code that stage runs (see `edgekd.store`). The engine wraps each
function in `StageStore.run`, which decides whether it needs to run at all.
"""
