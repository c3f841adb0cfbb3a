"""The CLI's commands, one module per group; `edgekd.cli` registers them on the Typer app.

Each command builds the same config a YAML would and calls the same function the engine
does (STYLE.md habit 9); heavy modules are imported inside the commands, so `edgekd --help`
stays fast (tests/test_lean_import.py).
"""
