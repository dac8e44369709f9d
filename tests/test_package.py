"""``runtime package``: the bundle's contents, reproducibility, and an offline install of it.

The install test needs wheels, and downloading them needs the package index: it runs when
RUNTIME_BUNDLE names a bundle built with wheels (``make package-check``) or when dist/wheels holds
wheels from an earlier ``make package`` (then it rebuilds the bundle offline from them), and is
skipped otherwise. Everything else builds with --no-wheels and needs no network.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from runtime.package import normalize, pyproject_dependencies, read_pins
from tests.support import ROOT, SEED_THREAT, write_json
from tests.support import copy_plugin as support_copy_plugin

BUNDLE = "s1_threat_events-1.0.0.zip"
TOP_LEVEL = {
    "plugin.yaml",
    "README.md",
    "LICENSE",
    "NOTICE",
    "CHANGELOG.md",
    "requirements.txt",
    "SHA256SUMS",
    "framework",
    "connectors",
    "actions",
    "schemas",
    "icons",
    "runtime",
    "examples",
    "docs",
    "wheels",
}


def clean_env(**extra: str) -> Dict[str, str]:
    """This environment without proxies, pip configuration or PYTHONPATH, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy")
        and not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(extra)
    return env


def package(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime", "package", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(**env),
        check=False,
    )


def build(output: Path, *args: str, **env: str) -> Path:
    proc = package("--no-wheels", "--output", str(output), *args, **env)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path == output / BUNDLE
    assert "built with --no-wheels" in proc.stderr
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("bundle"))


def read_zip(path: Path) -> Dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_bundle_holds_the_plugin_and_nothing_else(bundle: Path) -> None:
    names = list(read_zip(bundle))
    assert {name.split("/")[0] for name in names} == TOP_LEVEL - {"wheels"}
    for required in (
        "plugin.yaml",
        "README.md",
        "requirements.txt",
        "SHA256SUMS",
        "connectors/sentinelone.py",
        "actions/get_threat_events.py",
        "schemas/get_threat_events.output.schema.json",
        "icons/sentinelone.svg",
        "icons/sentinelone-48.png",
        "icons/sentinelone-128.png",
        "icons/sentinelone-256.png",
        "runtime/__main__.py",
        "examples/asset.example.yaml",
        "examples/playbook.example.yaml",
        "docs/README.md",
        "docs/action.md",
        "docs/platforms/swimlane.md",
    ):
        assert required in names
    for name in names:
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
        assert not any(part.startswith(".") for part in name.split("/")), name
    for left_out in ("tests/", "simulator/", "scripts/", "bench/", "pyproject.toml", "Makefile"):
        assert not any(name.startswith(left_out) for name in names), left_out


def test_bundle_files_are_the_repository_s(bundle: Path) -> None:
    for name, data in read_zip(bundle).items():
        if name != "SHA256SUMS":
            assert data == (ROOT / name).read_bytes(), name


def test_sha256sums_lists_every_other_file(bundle: Path) -> None:
    entries = read_zip(bundle)
    listed = {}
    for line in entries.pop("SHA256SUMS").decode("ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert listed == {name: hashlib.sha256(data).hexdigest() for name, data in entries.items()}


def test_two_builds_are_byte_identical(bundle: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again")
    assert again.read_bytes() == bundle.read_bytes()
    with zipfile.ZipFile(again) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3


def test_source_date_epoch_sets_the_timestamp(tmp_path: Path) -> None:
    epoch = "1767225600"  # 2026-01-01T00:00:00Z
    first = build(tmp_path / "a", SOURCE_DATE_EPOCH=epoch)
    second = build(tmp_path / "b", SOURCE_DATE_EPOCH=epoch)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}


def test_requirements_pin_everything_exactly() -> None:
    pins = read_pins(ROOT / "requirements.txt")
    for name, version in pyproject_dependencies(ROOT).items():
        assert pins[name] == version
    assert set(pyproject_dependencies(ROOT)) == {"requests", "jsonschema", "pyyaml"}
    # what requests and jsonschema need is pinned too (the wheel download proves it complete)
    for name in ("urllib3", "idna", "certifi", "charset-normalizer", "referencing", "rpds-py"):
        assert normalize(name) in pins


def copy_plugin(tmp_path: Path) -> Path:
    root = support_copy_plugin(tmp_path / "plugin")
    shutil.copytree(ROOT / "docs", root / "docs")  # the pages README.md links to ship too
    return root


def test_caches_and_dot_files_stay_out(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    (root / "connectors" / "__pycache__").mkdir()
    (root / "connectors" / "__pycache__" / "base.cpython-311.pyc").write_bytes(b"\0")
    (root / "actions" / "stale.pyc").write_bytes(b"\0")
    (root / "runtime" / ".notes").write_text("x")
    (root / "schemas" / "asset.schema.json~").write_text("x")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("")
    names = read_zip(build(tmp_path / "out", "--root", str(root)))
    assert not [n for n in names if "pycache" in n or n.endswith(("pyc", "~", ".notes"))]
    assert not [n for n in names if n.startswith("tests/")]
    assert "framework/connector.py" in names


def test_a_plugin_that_does_not_validate_is_not_packaged(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    (root / "icons" / "sentinelone-48.png").unlink()
    proc = package("--no-wheels", "--root", str(root), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "the plugin does not validate:" in proc.stderr
    assert "plugin.yaml: icons.48: file icons/sentinelone-48.png does not exist." in proc.stderr
    assert not (tmp_path / "out").exists()


def test_requirements_must_agree_with_pyproject(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    lock = root / "requirements.txt"
    lock.write_text(lock.read_text().replace("requests==2.32.5", "requests>=2.32"))
    proc = package("--no-wheels", "--root", str(root), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "requirements.txt: line" in proc.stderr and "is not an exact pin" in proc.stderr
    lock.write_text(lock.read_text().replace("requests>=2.32", "requests==2.31.0"))
    proc = package("--no-wheels", "--root", str(root), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "requests must be pinned ==2.32.5 as in pyproject.toml (found 2.31.0)" in proc.stderr


def test_runtime_never_imports_the_simulator_or_tests(bundle: Path) -> None:
    for name, data in read_zip(bundle).items():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(data, filename=name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in ("simulator", "tests", "pytest"), name


def test_the_package_command_is_imported_only_when_it_runs() -> None:
    code = (
        "import sys\n"
        "from runtime.cli import main\n"
        "code = main(['validate'])\n"
        "print(code, 'runtime.package' in sys.modules, 'zipfile' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert proc.stdout.split()[:2] == ["0", "False"], proc.stderr


# --- the offline install -------------------------------------------------------------------------


def bundle_with_wheels(tmp_path: Path) -> Path:
    """RUNTIME_BUNDLE, or a bundle rebuilt offline from dist/wheels; skip without wheels."""
    given = os.environ.get("RUNTIME_BUNDLE")
    if given:
        path = Path(given).resolve()
        assert path.is_file(), f"RUNTIME_BUNDLE={given} does not exist"
        return path
    wheels = ROOT / "dist" / "wheels"
    if not wheels.is_dir() or not any(wheels.glob("*.whl")):
        pytest.skip(
            "no wheels in dist/wheels: the install test needs `make package` (package index) "
            "first; `make package-check` builds them and runs it"
        )
    proc = package("--wheels-from", str(wheels), "--output", str(tmp_path / "dist"))
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


class Simulator:
    """``python -m simulator --port 0`` from the repository, in its own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("SIMULATOR_URL="):
            self.stop()
            raise AssertionError(f"the simulator did not start: {line!r}")
        self.url = line.strip().split("=", 1)[1]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture()
def simulator_process() -> Iterator[Simulator]:
    server = Simulator()
    yield server
    server.stop()


def run(command: List[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1"),
        check=False,
    )


def test_offline_install_runs_get_threat_events(
    tmp_path: Path, simulator_process: Simulator
) -> None:
    path = bundle_with_wheels(tmp_path)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with zipfile.ZipFile(path) as archive:
        archive.extractall(unpacked)
    for line in (unpacked / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((unpacked / name).read_bytes()).hexdigest() == digest, name
    for project in ("pyyaml", "rpds_py", "charset_normalizer"):  # the compiled ones
        for tag in ("cp39", "cp310", "cp311", "cp312"):
            for arch in ("x86_64", "aarch64"):
                assert len(list(unpacked.glob(f"wheels/{project}-*-{tag}-*{arch}*.whl"))) == 1
    assert len(list(unpacked.glob("wheels/requests-*-py3-none-any.whl"))) == 1

    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    created = run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    install = [python, "-m", "pip", "install", "--no-index", "--find-links", "wheels"]
    installed = run([*install, "--requirement", "requirements.txt"], cwd=unpacked)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    frozen = run([python, "-m", "pip", "freeze", "--all"], cwd=tmp_path).stdout
    versions = {
        normalize(name): version
        for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)$", frozen, re.M)
    }
    for name, version in read_pins(unpacked / "requirements.txt").items():
        if name != "typing-extensions" or sys.version_info < (3, 13):
            assert versions.get(name) == version, name

    origin = run([python, "-c", "import runtime, connectors; print(connectors.__file__)"], unpacked)
    assert Path(origin.stdout.strip()).resolve().parent == (unpacked / "connectors").resolve()
    validated = run([python, "-m", "runtime", "validate"], cwd=unpacked)
    assert validated.returncode == 0, validated.stderr

    asset = write_json(
        tmp_path / "asset.json", {"url": simulator_process.url, "api_token": "simulator-token"}
    )
    inputs = write_json(
        tmp_path / "inputs.json",
        {
            "path_parameters": {"threat_id": SEED_THREAT},
            "parameters": {"limit": 100, "eventTypes": ["process", "file"], "sortOrder": "desc"},
        },
    )
    result = run(
        [python, "-m", "runtime", "run", "get_threat_events", "--asset", asset, "--inputs", inputs],
        cwd=unpacked,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["status_code"] == 200
    assert envelope["json_body"]["pagination"] == {"nextCursor": None, "totalItems": 2}
    assert SEED_THREAT in [event["id"] for event in envelope["json_body"]["data"]]
    assert "simulator-token" not in result.stdout + result.stderr


FILLED_IN = "url: https://usea1-acme.sentinelone.net\napi_token: eyJrIjoiZmlsbGVkLWluIn0\n"


def test_only_allow_listed_file_types_ship(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    (root / "runtime" / "asset.local.json").write_text('{"api_token": "eyJrIjoi"}')
    (root / "connectors" / "token.bak").write_text("eyJrIjoi")
    (root / "actions" / "notes.txt").write_text("x")
    names = read_zip(build(tmp_path / "out", "--root", str(root)))
    for left_out in ("runtime/asset.local.json", "connectors/token.bak", "actions/notes.txt"):
        assert left_out not in names
    assert "runtime/cli.py" in names


@pytest.mark.parametrize("name", ["asset.yaml", "asset.example.yaml", "inputs/asset.local.yaml"])
def test_a_filled_in_asset_stops_the_build(tmp_path: Path, name: str) -> None:
    root = copy_plugin(tmp_path)
    (root / "examples" / name).write_text(FILLED_IN)
    proc = package("--no-wheels", "--root", str(root), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"examples/{name}: looks like a filled-in asset (api_token is set); a bundle or "
        "export must not ship a token"
    )
    assert "eyJrIjoiZmlsbGVkLWluIn0" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_in_a_git_checkout_only_tracked_files_ship(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "plugin"], check=True)
    (root / "examples" / "inputs" / "mine.yaml").write_text("path_parameters: {threat_id: '1'}\n")
    (root / "connectors" / "scratch.py").write_text("TOKEN = 'x'\n")
    names = read_zip(build(tmp_path / "out", "--root", str(root)))
    assert "examples/inputs/mine.yaml" not in names and "connectors/scratch.py" not in names
    assert "examples/inputs/first-page.yaml" in names


def without_dac_override() -> None:
    """For a root test run: drop the capabilities that let root ignore file permissions."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_folder_is_named_with_a_way_out(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path)
    root.chmod(0o555)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runtime", "package", "--no-wheels", "--root", str(root)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=clean_env(),
            preexec_fn=without_dac_override if os.geteuid() == 0 else None,
            check=False,
        )
    finally:
        root.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (
        f"cannot write the bundle to {root / 'dist'} (permission denied); choose a writable "
        "folder with --output DIR.\n"
    )


def test_the_bundles_cli_does_not_offer_export(tmp_path: Path) -> None:
    # The bundle ships no exporters/ (platform packages are built from the sources): its CLI
    # neither lists export nor fails with an internal error on it.
    with zipfile.ZipFile(build(tmp_path / "dist")) as archive:
        archive.extractall(tmp_path / "bundle")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "runtime", *args],
            cwd=tmp_path / "bundle",
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )

    listed = cli("--help")
    assert listed.returncode == 0 and "validate" in listed.stdout
    assert "export" not in listed.stdout
    exported = cli("export", "swimlane")
    assert exported.returncode == 2, exported.stderr
    assert "invalid choice: 'export'" in exported.stderr and "internal error" not in exported.stderr
    assert "export" in cli_here("--help").stdout


def cli_here(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env=clean_env(), check=False,
    )  # fmt: skip
