"""Run many `edgekd` command lines, each in its own forked process, from one warm interpreter.

    python tests/bad_inputs/forkrun.py cases.json results.json

cases.json is a list of {"id", "cwd", "argv"}. Each case runs `edgekd.cli.main()` (the console
entry point) in a fork with its own working directory, stdout and stderr, exactly as
`edgekd ARGV` would; an exception that escapes is printed as Python prints it (a traceback,
exit 1). Importing torch once and forking keeps 50 cases fast. Linux/macOS only (os.fork).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path


def run_case(case: dict) -> dict:
    out_path = Path(case["cwd"]) / ".case.out"
    err_path = Path(case["cwd"]) / ".case.err"
    pid = os.fork()
    if pid == 0:  # child: behave like a fresh `edgekd ARGV` process
        code = 1
        try:
            os.chdir(case["cwd"])
            for fd, path in ((1, out_path), (2, err_path)):
                f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(f, fd)
            sys.argv = ["edgekd", *case["argv"]]
            from edgekd.cli import main

            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    result = {
        "id": case["id"],
        "returncode": os.waitstatus_to_exitcode(status),
        "stdout": out_path.read_text(errors="replace"),
        "stderr": err_path.read_text(errors="replace"),
    }
    out_path.unlink()
    err_path.unlink()
    return result


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    import edgekd.cli  # noqa: F401  warm the imports the children share
    import edgekd.engine  # noqa: F401

    results = [run_case(c) for c in cases]
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
