"""Platform conformance (``make platforms``): each export run by its vendor's own runtime.

Not collected by ``make test`` (see tests/conftest.py: set PLATFORMS_TESTS=1). Per platform:
``test_<platform>.py`` with its cases, its drivers beside it (run in the vendor's venv), and a
session fixture here giving (venv python, export folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import pytest

from tests.platforms.venvs import ensure_venv, find_python, settings
from tests.support import SECRETS, run_cli

HERE = Path(__file__).resolve().parent


def export(platform: str, folder: Path) -> Path:
    """``python -m runtime export PLATFORM --output FOLDER``, checked."""
    result = run_cli("export", platform, "--output", str(folder))
    assert result.code == 0, result.stderr
    return folder


class Vendor(NamedTuple):
    python: Path
    tree: Path


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str
    output: Optional[Any]  # the ::set-output value
    error: Optional[Any]  # the ::set-error value


def marked(text: str, marker: str) -> Optional[Any]:
    values = [
        json.loads(line[len(marker) :]) for line in text.splitlines() if line.startswith(marker)
    ]
    assert len(values) <= 1, f"{marker} printed {len(values)} times"
    return values[0] if values else None


def run_vendor(python: Path, script: str, args: List[str], message: Dict[str, Any]) -> Run:
    """A driver of tests/platforms in the vendor's venv, one JSON message on stdin; every byte
    it prints is checked for secrets and tracebacks."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), str(HERE / script), *args],
        input=json.dumps(message),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd="/",
    )
    for secret in SECRETS:
        assert secret not in proc.stdout and secret not in proc.stderr, "a secret leaked"
    assert "Traceback" not in proc.stderr, proc.stderr
    return Run(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        marked(proc.stdout, "::set-output "),
        marked(proc.stderr, "::set-error "),
    )


@pytest.fixture(scope="session")
def swimlane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    tree = export("swimlane", tmp_path_factory.mktemp("export") / "swimlane")
    python = ensure_venv("swimlane", [tree / "requirements.txt"])
    yield Vendor(python, tree)


# Checks the export's uv.lock against the package index (a tool of this suite, not of the app).
UV = "uv==0.13.9"
# Wheel downloads `soarapps package build` may run at once (its own default: all of them).
SOAR_DOWNLOADS = "4"


class SoarApp(NamedTuple):
    python: Path
    tree: Path  # the export: the project soarapps builds from
    tarball: Path  # what SOAR installs
    installed: Path  # the tarball unpacked: the app as SOAR holds it


def _offline_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_SYSTEM_CERTS"] = "1"  # trust the machine's CA store (pip does), not only uv's own
    return env


@pytest.fixture(scope="session")
def splunk_soar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoarApp]:
    """The export, the venv of splunk-soar-sdk at its pin on Python 3.13 (skipped, with the
    reason, where the machine has no such Python), the shipped uv.lock checked current with
    ``uv lock --check``, and the app tarball ``soarapps package build`` makes from it
    (tests/platforms/soar_package.py: the SDK's command, at most SOAR_DOWNLOADS downloads at
    once), unpacked as the platform unpacks it."""
    import tarfile

    from exporters.splunk_soar import TEST_PIN, dependencies
    from framework.manifest import load_plugin

    config = settings("splunk_soar")
    try:
        interpreter = find_python(config["python"])
    except RuntimeError as exc:
        pytest.skip(f"Splunk SOAR: {exc}")
    plugin = load_plugin()
    folder = tmp_path_factory.mktemp("export")
    tree = export("splunk_soar", folder / "splunk_soar")
    requirements = folder / "requirements.txt"
    pins = dependencies(plugin, config)[1:]  # the SDK pin is the venv's runtime
    requirements.write_text("\n".join([*pins, UV, TEST_PIN]) + "\n", encoding="utf-8")
    python = ensure_venv("splunk_soar", [requirements])
    lock = subprocess.run(
        [str(python.parent / "uv"), "lock", "--check", "--python", interpreter],
        cwd=tree,
        env=_offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lock.returncode == 0, (
        "exporters/splunk_soar/uv.lock is not current: run `uv lock` in an export and copy "
        "its uv.lock there (docs/platforms/splunk_soar.md)\n" + lock.stderr[-2000:]
    )
    tarball = folder / f"{plugin.id}.tgz"
    build = subprocess.run(
        [str(python), str(HERE / "soar_package.py"), str(tree), str(tarball), SOAR_DOWNLOADS],
        env=_offline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    installed = folder / "installed"
    with tarfile.open(tarball) as archive:
        archive.extractall(installed, filter="data")
    (top,) = list(installed.iterdir())
    yield SoarApp(python, tree, tarball, top)


@pytest.fixture(scope="session")
def insightconnect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """The export, ``pip install``-ed into the runtime's venv as the image's build does
    (setup.py's find_packages(): the package with our code in util/), so the launcher imports
    the installed package, with no PYTHONPATH."""
    from framework.manifest import load_plugin

    tree = export("insightconnect", tmp_path_factory.mktemp("export") / load_plugin().id)
    python = ensure_venv("insightconnect")
    # From a copy: a build leaves build/ and *.egg-info beside setup.py.
    copy = tmp_path_factory.mktemp("build") / tree.name
    shutil.copytree(tree, copy)
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-deps", "--force-reinstall", str(copy)]  # setuptools from the index
    subprocess.run(command, check=True, cwd=copy, timeout=300)
    yield Vendor(python, tree)


@pytest.fixture(scope="session")
def shuffle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """The Shuffle export; ``tree`` is its app folder ``<id>/<version>/`` and the venv is
    ``pip install`` of that folder's requirements.txt (what the app image's build installs)."""
    from framework.manifest import load_plugin

    plugin = load_plugin()
    tree = export("shuffle", tmp_path_factory.mktemp("export") / "shuffle")
    app = tree / plugin.id / plugin.version
    python = ensure_venv("shuffle", [app / "requirements.txt"])
    yield Vendor(python, app)


@pytest.fixture(scope="session")
def cortex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """The Cortex export; ``tree`` is the export's top (analyzers/, thehive-templates/) and the
    venv is ``pip install`` of the analyzer's requirements.txt (cortexutils at its pin first)."""
    from exporters.common import camel
    from framework.manifest import load_plugin

    tree = export("cortex", tmp_path_factory.mktemp("export") / "cortex")
    folder = tree / "analyzers" / camel(load_plugin().title)
    python = ensure_venv("cortex", [folder / "requirements.txt"])
    yield Vendor(python, tree)


@pytest.fixture(scope="session")
def qradar_soar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """The QRadar SOAR export and the venv of IBM's tools at their pins (resilient-circuits,
    resilient-sdk, pytest-resilient-circuits) on a Python they support (skipped, with the
    reason, where the machine has none)."""
    from tests.platforms.venvs import venv_with

    config = settings("qradar_soar")
    try:
        find_python(config["python"])
    except RuntimeError as exc:
        pytest.skip(f"IBM QRadar SOAR: {exc}")
    tree = export("qradar_soar", tmp_path_factory.mktemp("export") / "qradar_soar")
    pins = [config["runtime"], config["sdk"], config["tests"]]
    python = venv_with("qradar_soar", config["python"], pins)
    yield Vendor(python, tree)
