"""The README's commands work as written, and the package carries what it promises (console
script, --version, LICENSE, SPDX license string, CITATION.cff).

Which README shell commands run here, and how, is decided in ``HOW`` below; every command of
the README's ```bash blocks must be listed there, so a new one cannot go untested silently:

- ``as written``: run verbatim, with ``.venv/bin/python`` / ``.venv/bin/nasi-harness`` being
  this interpreter / ``python -m harness.cli.main`` (the same code the installed script
  calls), in a fresh working folder;
- ``smaller``: the main command with ``--sample 500`` cut to 6 architectures (2 minutes ->
  seconds); every other argument as written;
- ``not run``: creating a venv and installing (network, minutes: CI's ``.ci/run`` does exactly
  that) and the test suite itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAIN_RANK = ".venv/bin/python -m harness.rank --sample 500 --seed 0 --out runs/default --report"
HOW = {
    "python3 -m venv .venv": "not run",
    '.venv/bin/pip install torch==2.13.0 -e ".[test]"': "not run",
    MAIN_RANK: "smaller",
    ".venv/bin/python -m pytest -q": "not run",
    ".venv/bin/nasi-harness --version": "as written",
    ".venv/bin/nasi-harness rank --list-scores": "as written",
    ".venv/bin/python -m harness.report runs/default --out runs/default-report "
    "--formats png,pdf,svg": "as written",
}
SMALLER = {MAIN_RANK: MAIN_RANK.replace("--sample 500", "--sample 6")}


def readme_shell_commands() -> list[str]:
    """Every command of the README's ```bash blocks (``a && b`` is two commands), in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [ln.strip() for block in blocks for ln in block.splitlines()]
    return [cmd.strip() for ln in lines if ln and not ln.startswith("#")
            for cmd in ln.split(" && ")]


def argv_of(command: str) -> list[str]:
    import shlex

    argv = shlex.split(command)
    if argv[0] == ".venv/bin/python":
        return [sys.executable, *argv[1:]]
    if argv[0] == ".venv/bin/nasi-harness":
        return [sys.executable, "-m", "harness.cli.main", *argv[1:]]
    raise AssertionError(f"no way to run {command!r} here")


def env_for(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NASI_HARNESS_CACHE"] = str(tmp / "scores.sqlite")  # not the user's cache
    return env


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env_for(cwd), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The README's runnable commands, in order, in a fresh folder: (folder, outputs)."""
    cwd = tmp_path_factory.mktemp("readme")
    outputs = {}
    for command in readme_shell_commands():
        how = HOW[command]
        if how != "not run":
            outputs[command] = run(argv_of(SMALLER.get(command, command)), cwd).stdout
    return cwd, outputs


def test_every_readme_command_is_classified():
    commands = readme_shell_commands()
    assert commands and set(commands) == set(HOW), set(commands) ^ set(HOW)


def test_readme_commands_work_as_written(readme_run):
    cwd, out = readme_run
    assert (cwd / "runs/default/ranking.csv").is_file()
    assert (cwd / "runs/default/report/report.md").is_file()
    version = out[".venv/bin/nasi-harness --version"].strip()
    assert re.fullmatch(r"nasi-harness \d+\.\d+\.\d+\S*", version), version
    listed = out[".venv/bin/nasi-harness rank --list-scores"].splitlines()
    from nasi.scores import available_scores

    assert sorted(ln.split(" ", 1)[0] for ln in listed) == sorted(available_scores())
    plots = {p.suffix for p in (cwd / "runs/default-report/plots").iterdir()}
    assert plots == {".png", ".pdf", ".svg"}


def test_readme_table_commands(readme_run, capsys):
    """`python -m harness.X` of the command table: each has a working --help (in this process:
    the entry points are three lines over harness.cli.X.main), and the report line runs as
    written (RUN_DIR... = the run above) into reports/<run folder name>."""
    import importlib

    cwd, _ = readme_run
    table = re.findall(r"^\| `python -m harness\.(\w+)[^`]*` \|", README, flags=re.M)
    assert set(table) >= {"rank", "arch", "perf", "report", "search", "regression"}
    for name in table:
        assert f"from harness.cli.{name} import main" in (ROOT / f"harness/{name}.py").read_text()
        with pytest.raises(SystemExit) as exc:
            importlib.import_module(f"harness.cli.{name}").main(["--help"])
        assert exc.value.code == 0 and "usage:" in capsys.readouterr().out, name
    line = re.search(r"`(python -m harness\.report RUN_DIR\.\.\.)`", README).group(1)
    argv = [sys.executable, *line.replace("RUN_DIR...", "runs/default").split()[1:],
            "--bootstrap", "0"]  # --bootstrap 0: the intervals are not what is tested here
    run(argv, cwd)
    assert (cwd / "reports/default/report.md").is_file()


def test_console_script():
    """``nasi-harness --version`` / ``rank --help``: through the module the script calls, and
    through the installed script itself when this environment has one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = f"nasi-harness {version('nasi-harness')}"
    except PackageNotFoundError:
        pytest.skip("nasi-harness is not installed (pip install -e .)")
    script = Path(sys.executable).with_name("nasi-harness")
    launchers = [[sys.executable, "-m", "harness.cli.main"]]
    launchers += [[str(script)]] if script.is_file() else []
    for launcher in launchers:
        assert run([*launcher, "--version"], ROOT).stdout.strip() == expected
        help_text = run([*launcher, "rank", "--help"], ROOT).stdout
        assert help_text.startswith("usage: nasi-harness rank") and "--list-scores" in help_text
        assert len(re.search(r"--score SCORE\s+(.*?)\n  --", help_text, re.S).group(1)) < 300
    bad = subprocess.run([sys.executable, "-m", "harness.cli.main", "rnak"], cwd=ROOT,
                         env=env_for(ROOT), capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_package_metadata_files():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert project["scripts"]["nasi-harness"] == "harness.cli.main:main"
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "nasi-harness contributors" in license_text
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    for title in ("NASI: Label- and Data-agnostic Neural Architecture Search at Initialization",
                  "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
                  "NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and Size"):
        assert title in cff, title
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(cff)
    assert data["type"] == "software" and data["license"] == "MIT"
    assert [r["year"] for r in data["references"]] == [2022, 2020, 2021]
