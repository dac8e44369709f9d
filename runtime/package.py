"""``python -m runtime package``: the importable, offline-installable bundle.

Writes ``dist/<id>-<version>.zip`` (id and version from plugin.yaml) holding, at its top level:
plugin.yaml, README.md, connectors/, actions/, schemas/, icons/, examples/ (asset template, inputs,
playbook snippet), runtime/ (the local stand-in for the platform, so the bundle can be validated
and run on the SOAR server itself), requirements.txt (every runtime dependency pinned exactly,
transitive ones included), wheels/ (those pins as wheels
for CPython 3.9 to 3.12 on manylinux x86_64 and aarch64; pure-Python wheels once) and SHA256SUMS
(the sha256 of every other file, in ``sha256sum -c`` format). Tests, the simulator, scripts and
dev tools stay out, and so do __pycache__ and *.pyc.

The zip is reproducible: entries in sorted order, one fixed timestamp (1980-01-01, or
SOURCE_DATE_EPOCH when set), fixed permissions, fixed compression; building twice gives identical
bytes. Only ``make package``/``runtime package`` import this module: ``runtime run`` never does.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from framework.manifest import PLUGIN_ROOT

BUNDLE_FILES = ("plugin.yaml", "README.md")
BUNDLE_DIRS = ("framework", "connectors", "actions", "schemas", "icons", "runtime", "examples")
REQUIREMENTS = "requirements.txt"
CHECKSUMS = "SHA256SUMS"
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12")
# manylinux2014 = glibc 2.17: RHEL/CentOS 7 and newer, Debian 9+, Ubuntu 18.04+.
PLATFORMS = ("manylinux2014_x86_64", "manylinux2014_aarch64")
SKIPPED_NAMES = re.compile(r"(^\.|~$|\.py[co]$|\.sw[po]$|\.orig$|\.rej$)")
STORED = (".whl", ".png", ".zip", ".gz")  # already compressed: stored as they are
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(;.*)?$")
WHEEL_NAME = re.compile(r"^([^-]+)-([^-]+)-.*\.whl$")


class PackageError(Exception):
    """The bundle cannot be built: every reason, one line each."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


@dataclass
class Bundle:
    path: Path
    files: int
    wheels: int
    size: int
    sha256: str


def normalize(name: str) -> str:
    """A project name as PEP 503 compares them: ``PyYAML`` and ``pyyaml`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> Dict[str, str]:
    """{normalized name: version} from a requirements file of exact pins; anything else fails."""
    pins: Dict[str, str] = {}
    problems = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if not match:
            problems.append(f"{path.name}: line {number}: {line!r} is not an exact pin (name==x).")
            continue
        pins[normalize(match.group(1))] = match.group(2)
    if problems:
        raise PackageError(problems)
    return pins


def pyproject_dependencies(root: Path) -> Dict[str, str]:
    """{normalized name: pinned version} of pyproject.toml's [project] dependencies."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
    found = re.findall(r'"([A-Za-z0-9._-]+)\s*==\s*([^";\s]+)', block.group(1) if block else "")
    return {normalize(name): version for name, version in found}


def check_requirements(root: Path) -> Dict[str, str]:
    path = root / REQUIREMENTS
    if not path.is_file():
        raise PackageError([f"{REQUIREMENTS}: missing in {root}."])
    pins = read_pins(path)
    problems = [
        f"{REQUIREMENTS}: {name} must be pinned =={version} as in pyproject.toml "
        f"(found {pins.get(name, 'no pin')})."
        for name, version in sorted(pyproject_dependencies(root).items())
        if pins.get(name) != version
    ]
    if problems:
        raise PackageError(problems)
    return pins


def bundle_files(root: Path) -> Iterator[Tuple[str, Path]]:
    """(name in the zip, file) for the plugin's own files: no caches, no dot or editor files."""
    for name in BUNDLE_FILES:
        if not (root / name).is_file():
            raise PackageError([f"{name}: missing in {root}."])
        yield name, root / name
    for folder in BUNDLE_DIRS:
        if not (root / folder).is_dir():
            raise PackageError([f"{folder}/: missing in {root}."])
        for directory, subdirs, files in os.walk(root / folder):
            subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
            for file in files:
                if not SKIPPED_NAMES.search(file):
                    path = Path(directory, file)
                    yield path.relative_to(root).as_posix(), path


def _pip_download(
    requirements: Path, dest: Path, python: str, platform: str, find_links: Optional[Path]
) -> None:
    abi = "cp" + python.replace(".", "")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "--platform",
        platform,
        "--dest",
        str(dest),
        "--requirement",
        str(requirements),
    ]
    if find_links is not None:
        command += ["--no-index", "--find-links", str(find_links)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        source = f"--wheels-from {find_links}" if find_links else "the package index"
        raise PackageError(
            [
                f"pip download for CPython {python} on {platform} failed (from {source}):",
                *(errors[-3:] or proc.stderr.strip().splitlines()[-3:]),
                "without the package index, build with --no-wheels (the bundle then needs the "
                "index to install) or pass --wheels-from DIR holding the wheels.",
            ]
        )


def download_wheels(
    requirements: Path, pins: Dict[str, str], find_links: Optional[Path]
) -> Dict[str, bytes]:
    """{wheel file name: bytes} for every target; pure-Python wheels appear once."""
    with tempfile.TemporaryDirectory(prefix="runtime-package-") as tmp:
        targets = [(python, platform) for python in PYTHON_VERSIONS for platform in PLATFORMS]
        dests = [Path(tmp, f"{python}-{platform}") for python, platform in targets]
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(_pip_download, requirements, dest, python, platform, find_links)
                for (python, platform), dest in zip(targets, dests)
            ]
            for future in futures:
                future.result()
        wheels: Dict[str, bytes] = {}
        for dest in dests:
            for wheel in sorted(dest.glob("*.whl")):
                data = wheel.read_bytes()
                if wheels.setdefault(wheel.name, data) != data:
                    raise PackageError([f"wheels: two different files named {wheel.name}."])
    problems = []
    for name in sorted(wheels):
        match = WHEEL_NAME.match(name)
        project, version = (normalize(match.group(1)), match.group(2)) if match else (name, "")
        if pins.get(project) != version:
            problems.append(
                f"{REQUIREMENTS}: the wheel {name} was pulled in as a dependency; pin it "
                f"({project}=={version}) so that every install is the same."
            )
    if problems:
        raise PackageError(problems)
    return wheels


def _timestamp() -> Tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = max(int(epoch), ZIP_EPOCH) if epoch.isdigit() else ZIP_EPOCH
    return time.gmtime(seconds)[:6]


def write_zip(path: Path, entries: Dict[str, bytes]) -> None:
    """A reproducible zip: sorted entries, one timestamp, mode 0644, deflate level 9."""
    date_time = _timestamp()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # unix, so that external_attr means a file mode
            info.external_attr = 0o100644 << 16
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(STORED) else zipfile.ZIP_DEFLATED
            )
            archive.writestr(info, entries[name], compresslevel=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, path)


def checksums(entries: Dict[str, bytes]) -> bytes:
    lines = [f"{hashlib.sha256(entries[name]).hexdigest()}  {name}\n" for name in sorted(entries)]
    return "".join(lines).encode("ascii")


def build(
    root: Path = PLUGIN_ROOT,
    output: Optional[Path] = None,
    *,
    wheels: bool = True,
    wheels_from: Optional[Path] = None,
    keep_wheels: Optional[Path] = None,
) -> Bundle:
    """Check the plugin, then write ``<output>/<id>-<version>.zip``; see the module docstring.

    ``wheels_from``: resolve the wheels offline from that folder instead of the package index.
    ``keep_wheels``: also copy the wheels there (a cache for offline rebuilds and the install
    test), replacing what it held."""
    from framework.manifest import load_plugin
    from runtime.lint import lint_plugin

    problems = lint_plugin(str(root))
    if problems:
        raise PackageError(["the plugin does not validate:", *problems])
    plugin = load_plugin(root)
    pins = check_requirements(root)
    entries = {name: path.read_bytes() for name, path in bundle_files(root)}
    entries[REQUIREMENTS] = (root / REQUIREMENTS).read_bytes()
    found: Dict[str, bytes] = {}
    if wheels:
        found = download_wheels(root / REQUIREMENTS, pins, wheels_from)
        entries.update({f"wheels/{name}": data for name, data in found.items()})
        if keep_wheels is not None:
            shutil.rmtree(keep_wheels, ignore_errors=True)
            keep_wheels.mkdir(parents=True)
            for name, data in found.items():
                (keep_wheels / name).write_bytes(data)
    entries[CHECKSUMS] = checksums(entries)
    target = (output or root / "dist") / f"{plugin.id}-{plugin.version}.zip"
    write_zip(target, entries)
    data = target.read_bytes()
    return Bundle(
        path=target,
        files=len(entries),
        wheels=len(found),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def cmd_package(args: argparse.Namespace, secrets: List[str]) -> int:
    """The CLI command: build, print the zip's path on stdout and a summary on stderr."""
    root = Path(args.root).resolve() if args.root else PLUGIN_ROOT
    output = Path(args.output).resolve() if args.output else root / "dist"
    wheels_from = Path(args.wheels_from).resolve() if args.wheels_from else None
    if wheels_from is not None and not wheels_from.is_dir():
        print(f"--wheels-from: {wheels_from} is not a folder.", file=sys.stderr)
        return 2
    try:
        bundle = build(
            root,
            output,
            wheels=not args.no_wheels,
            wheels_from=wheels_from,
            keep_wheels=None if (args.no_wheels or wheels_from) else output / "wheels",
        )
    except PackageError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    print(bundle.path)
    print(
        f"{bundle.path.name}: {bundle.files} files, {bundle.wheels} wheels, "
        f"{bundle.size} bytes, sha256 {bundle.sha256}.",
        file=sys.stderr,
    )
    if args.no_wheels:
        print(
            "built with --no-wheels: the bundle has no wheels/ and installing it needs the "
            "package index (pip install -r requirements.txt).",
            file=sys.stderr,
        )
    return 0
