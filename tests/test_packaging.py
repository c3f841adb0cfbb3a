"""`pip install 'edgekd[all]'` (issue 11, point 5): every runtime with PyPI wheels for the
platform at hand, and `edgekd doctor` names the route for the rest.

The `all` extra's environment markers in pyproject.toml and each backend's `wheel_platforms`
say the same thing twice (pip reads one, doctor the other); this test keeps them equal.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

from edgekd.backends import BACKENDS

tomllib = pytest.importorskip("tomllib")
requirements = pytest.importorskip("packaging.requirements")

PLATFORMS = [("linux", "x86_64"), ("linux", "aarch64"), ("linux", "armv7l"),
             ("darwin", "arm64"), ("darwin", "x86_64"), ("win32", "AMD64"),
             ("win32", "ARM64")]  # fmt: skip


def _all_extra() -> list:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [requirements.Requirement(r) for r in project["optional-dependencies"]["all"]]


@pytest.mark.parametrize("system, machine", PLATFORMS)
def test_all_extra_matches_each_backends_wheel_platforms(system, machine):
    env = {"sys_platform": system, "platform_machine": machine, "extra": "all"}
    installed = set()
    for req in _all_extra():
        assert req.name == "edgekd", "the all extra names edgekd's own extras only"
        if req.marker is None or req.marker.evaluate(env):
            installed |= req.extras
    expected = {
        cls.extra
        for _, cls in BACKENDS.items()
        if cls.extra
        and (cls.wheel_platforms is None or f"{system}-{machine}" in cls.wheel_platforms)
    }
    assert installed - {"report"} == expected
    assert ("tensorrt" in installed) == (system == "linux" and machine in ("x86_64", "aarch64"))


def test_every_extra_the_backends_name_exists():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for name, cls in BACKENDS.items():
        assert cls.extra is None or cls.extra in extras, name


def test_doctor_says_what_edgekd_all_installs_and_how_to_get_the_rest():
    env = dict(os.environ, COLUMNS="300")
    res = subprocess.run([sys.executable, "-m", "edgekd", "doctor"], capture_output=True,
                         text=True, env=env, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("pip install 'edgekd[all]' installs on ")
    for name, cls in BACKENDS.items():
        if cls.extra and cls.installs_from_pypi_here():
            assert name in last
            if not cls(_target(name)).status().runs_here:
                assert f"pip install 'edgekd[{cls.extra}]'" in res.stdout


def _target(runtime: str):
    from edgekd.config.schema import TargetConfig

    return TargetConfig(name="t", runtime=runtime)
