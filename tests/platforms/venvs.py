"""One cached venv per platform with the vendor's runtime at its own pins (``make platforms``).

A platform's runtime and Python come from plugin.yaml ``platforms.<name>`` (``runtime``:
``name==version``, ``python``: e.g. ``>=3.10``); the venv is ``.venv-platforms/<name>`` and is
rebuilt only when what it was built from changes (the stamp file records it).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from framework.manifest import load_plugin
from tests.support import ROOT

VENVS = ROOT / ".venv-platforms"
CLAUSE = re.compile(r"^(>=|<=|==|<|>)\s*([0-9]+(?:\.[0-9]+)*)$")


def settings(platform: str) -> dict:
    return dict(load_plugin().platforms[platform])


def _version(python: str) -> Optional[Tuple[int, ...]]:
    try:
        proc = subprocess.run(
            [python, "-c", "import sys, venv; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    return tuple(int(part) for part in proc.stdout.split())


def satisfies(version: Sequence[int], spec: str) -> bool:
    """``version`` (3, 11, 7) meets ``spec`` such as '>=3.10' or '>=3.13,<3.14'."""
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = CLAUSE.match(clause)
        if not match:
            raise ValueError(f"python: {clause!r} is not a version clause such as >=3.10")
        op, wanted = match.group(1), tuple(int(p) for p in match.group(2).split("."))
        have = tuple(version[: len(wanted)])
        ok = {
            ">=": have >= wanted,
            "<=": have <= wanted,
            "==": have == wanted,
            "<": have < wanted,
            ">": have > wanted,
        }[op]
        if not ok:
            return False
    return True


def _numbers(path: str) -> Tuple[int, ...]:
    """(3, 13, 0) for .../versions/3.13.0/bin/python3: newest first when sorted in reverse."""
    name = Path(path).parent.parent.name
    return tuple(int(part) for part in re.findall(r"[0-9]+", name))


def find_python(spec: str) -> str:
    """``python3`` when it meets ``spec``, else the newest pyenv version that does."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(f"{pyenv}/versions/*/bin/python3"), key=_numbers, reverse=True)
    candidates = [shutil.which("python3") or "python3", *found]
    for candidate in candidates:
        version = _version(candidate)
        if version and satisfies(version, spec):
            return candidate
    raise RuntimeError(f"no Python {spec} on this machine (tried {', '.join(candidates)})")


def ensure_venv(platform: str, requirements: Sequence[Path] = ()) -> Path:
    """The venv's python, with ``platforms.<platform>.runtime`` and ``requirements`` installed."""
    config = settings(platform)
    return venv_with(platform, config["python"], [config["runtime"]], requirements)


def venv_with(
    name: str, python_spec: str, packages: Sequence[str], requirements: Sequence[Path] = ()
) -> Path:
    """The python of ``.venv-platforms/<name>`` (a Python meeting ``python_spec``) holding
    ``packages`` (pins) and ``requirements``; rebuilt only when one of them changes."""
    python = find_python(python_spec)
    folder = VENVS / name
    lines: List[str] = [f"python {'.'.join(map(str, _version(python) or ()))}", *packages]
    lines += [path.read_text(encoding="utf-8") for path in requirements]
    stamp = folder / ".built-from"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == "\n".join(lines):
        return folder / "bin" / "python"
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    command = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    command += ["--disable-pip-version-check", *packages]
    for path in requirements:
        command += ["-r", str(path)]
    subprocess.run(command, check=True)
    stamp.write_text("\n".join(lines), encoding="utf-8")
    return folder / "bin" / "python"
