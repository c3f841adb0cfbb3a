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


def _section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(f"## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def _commands_block() -> dict[str, list[str]]:
    """Per `edgekd <command>` line of README's Commands block: the options it names."""
    import re

    block = _section("Commands").split("```")[1]
    named: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines():
        text = line.split("#")[0]
        if line.startswith("edgekd "):
            current = text.split()[1]
            named[current] = []
        if current is not None and not line.lstrip().startswith("#"):
            named[current] += re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)
    return named


def test_every_command_in_readme_exists_with_the_options_it_names():
    import typer

    from edgekd.cli import app

    group = typer.main.get_command(app)
    named = _commands_block()
    assert set(group.commands) <= set(named), "README's Commands block misses a command"
    for command, options in named.items():
        if command == "--version":
            continue
        assert command in group.commands, f"README names `edgekd {command}`, which is not one"
        params = {o for p in group.commands[command].params for o in p.opts}
        missing = [o for o in options if o not in params]
        assert not missing, f"`edgekd {command}` has no option {missing}"


def test_every_column_in_readme_appears_in_the_report():
    from edgekd.report.columns import FULL
    from edgekd.report.table import HEADERS

    section = _section("What a run leaves behind")
    table = [line for line in section.splitlines() if line.startswith("| ")][1:]
    named = {n.strip().strip("`") for line in table for n in line.split("|")[1].split(" / ")}
    full = {header for _, header, _ in FULL}
    assert named == full, f"README only: {named - full}; report only: {full - named}"
    compact = section[section.index("The terminal shows a compact table") :]
    for header in HEADERS:
        assert f"`{header}`" in compact, header
