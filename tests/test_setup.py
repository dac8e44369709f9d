"""Setting up and walking through by hand: the Makefile's Python check and .venv repair,
`make help`, `make demo`, `make simulator` and the files they point at, .gitignore.

The Makefile runs for real in a copy of the plugin (so this checkout's .venv is never touched);
the too-old interpreter is pyenv's Python 3.8 when the machine has it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tests.support import ROOT

PY38 = Path.home() / ".pyenv" / "versions" / "3.8.18" / "bin" / "python3.8"
needs_py38 = pytest.mark.skipif(not PY38.is_file(), reason="needs pyenv's Python 3.8.18")


def make_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "plugin"
    copy.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    return copy


def make(copy: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "PYTHON")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(copy), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def venv_sh(copy: Path, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """scripts/venv.sh in ``copy``, creating ``.venv`` with this Python (nothing installed)."""
    return subprocess.run(
        ["scripts/venv.sh", sys.executable, ".venv", "--create-only"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def version_of(python: Path) -> str:
    proc = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@needs_py38
def test_too_old_python_is_named_before_anything_is_created(tmp_path) -> None:
    copy = make_copy(tmp_path)
    proc = make(copy, "demo", f"PYTHON={PY38}")
    assert proc.returncode != 0
    assert f"Python >= 3.9 is required (found 3.8.18 at '{PY38}'" in proc.stderr
    assert "pip" not in proc.stderr.lower()
    assert not (copy / ".venv").exists()


@needs_py38
def test_a_venv_holding_an_old_python_is_rebuilt(tmp_path) -> None:
    copy = make_copy(tmp_path)
    subprocess.run([str(PY38), "-m", "venv", "--without-pip", str(copy / ".venv")], check=True)
    assert version_of(copy / ".venv" / "bin" / "python") == "3.8.18"
    proc = venv_sh(copy)
    assert proc.returncode == 0, proc.stderr
    assert "rebuilding .venv: it holds Python 3.8.18, older than 3.9." in proc.stderr
    assert version_of(copy / ".venv" / "bin" / "python") == version_of(Path(sys.executable))


def test_a_venv_made_with_another_python_than_asked_is_rebuilt(tmp_path) -> None:
    copy = make_copy(tmp_path)
    mine = version_of(Path(sys.executable))
    candidates = sorted((Path.home() / ".pyenv" / "versions").glob("3.*/bin/python3"))
    other = next((p for p in candidates if newer_than_38(p) and version_of(p) != mine), None)
    if other is None:
        pytest.skip("needs a second Python >= 3.9 under pyenv")
    subprocess.run([str(other), "-m", "venv", "--without-pip", str(copy / ".venv")], check=True)
    proc = venv_sh(copy, env={**os.environ, "PYTHON_EXPLICIT": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "rebuilding .venv: it was made with" in proc.stderr
    assert version_of(copy / ".venv" / "bin" / "python") == version_of(Path(sys.executable))


def newer_than_38(python: Path) -> bool:
    major, minor = version_of(python).split(".")[:2]
    return (int(major), int(minor)) >= (3, 9)


def test_make_help_lists_every_target() -> None:
    proc = make(ROOT, "help")
    assert proc.returncode == 0, proc.stderr
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony
    for target in phony.group(1).split():
        assert re.search(rf"^  {target} +\S", proc.stdout, re.M), target


def commands_in(text: str) -> List[List[str]]:
    """The `python -m runtime ...` commands a script printed for people to run."""
    found = []
    for line in text.splitlines():
        if "-m runtime" in line:
            command = line.split("demo: ", 1)[-1].strip()
            found.append(shlex.split(command.split("|")[-1]))
    return found


def test_demo_prints_only_commands_whose_files_exist() -> None:
    proc = subprocess.run(
        ["scripts/demo.sh"],
        cwd=ROOT,
        env={**os.environ, "PY": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status_code": 200' in proc.stdout
    commands = commands_in(proc.stderr)
    assert commands
    for command in commands:
        for option in ("--asset", "--inputs"):
            value = command[command.index(option) + 1]
            assert value == "-" or (ROOT / value).is_file(), f"{value} does not exist"


def test_make_simulator_keeps_running_and_its_commands_work(tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        ["scripts/simulator.sh"],
        cwd=ROOT,
        env={**os.environ, "PY": sys.executable, "SIM_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        while len(lines) < 6:
            line = proc.stdout.readline()
            assert line, "the script ended before printing its commands"
            lines.append(line)
        assert f"listening at http://127.0.0.1:{port}" in lines[0]
        commands = [line.strip() for line in lines[2:6]]
        assert all("-m runtime" in command for command in commands)
        for command in commands[:3]:  # the commands as printed, through a shell
            ran = subprocess.run(
                ["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60
            )
            assert ran.returncode == 0, (command, ran.stderr)
        assert proc.poll() is None  # still serving
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def test_the_simulator_asset_matches_make_simulator() -> None:
    text = (ROOT / "examples" / "asset.simulator.yaml").read_text(encoding="utf-8")
    assert "url: http://127.0.0.1:8765\n" in text and "api_token: simulator-token\n" in text
    assert "port=${SIM_PORT:-8765}" in (ROOT / "scripts" / "simulator.sh").read_text()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "name",
    [
        "asset.yaml",
        "examples/asset.yaml",
        "asset.prod.local.yaml",
        "asset.local.json",
        "dist/x.zip",
    ],
)
def test_filled_in_assets_and_dist_are_gitignored(name) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT, check=False)
    assert proc.returncode == 0, f"{name} is not ignored"
