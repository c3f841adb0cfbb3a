"""README's quick start and .ci/run stay in step: CI runs exactly the README's test command."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    test_cmd = [line for line in ci if "pytest" in line and not line.startswith("#")]
    assert len(test_cmd) == 1
    readme = (REPO / "README.md").read_text()
    assert test_cmd[0].strip() in readme


def test_readme_quickstart_names_the_quickstart_pipeline():
    readme = (REPO / "README.md").read_text()
    assert "pipelines/quickstart.yaml" in readme
    assert (REPO / "pipelines" / "quickstart.yaml").is_file()
