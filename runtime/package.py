"""``python -m runtime package``: dist/<id>-<version>.zip, importable and installable offline.

It holds the plugin's own files (in a git checkout only tracked ones, only the allow-listed file
types: a pasted token or an editor file never ships), runtime/ (so the bundle can be validated and
run on the SOAR server), requirements.txt with every dependency pinned, wheels/ for CPython 3.9 to
3.12 on manylinux x86_64 and aarch64, and SHA256SUMS. A file that looks like a filled-in asset
stops the build. The zip is reproducible (sorted entries, one timestamp: 1980-01-01 or
SOURCE_DATE_EPOCH). ``runtime run`` never imports this module.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from framework.manifest import PLUGIN_ROOT, load_plugin
from runtime.archive import write_zip
from runtime.lint import lint_plugin
from runtime.output import write_stdout

BUNDLE_FILES = ("plugin.yaml", "README.md", "LICENSE", "NOTICE", "CHANGELOG.md")
REQUIREMENTS = "requirements.txt"
CHECKSUMS = "SHA256SUMS"
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12")
# manylinux2014 = glibc 2.17: RHEL/CentOS 7 and newer, Debian 9+, Ubuntu 18.04+.
PLATFORMS = ("manylinux2014_x86_64", "manylinux2014_aarch64")
# The bundled folders, each with the file types it may ship (the allow-list: no *.pyc, *.bak,
# editor files).
ALLOWED = {
    "framework": (".py",), "connectors": (".py",), "actions": (".py",), "schemas": (".json",),
    "icons": (".png", ".svg"), "runtime": (".py",), "examples": (".yaml",), "docs": (".md",),
}  # fmt: skip
BUNDLE_DIRS = tuple(ALLOWED)
# Files of the bundled folders that belong to what stays out (the simulator).
EXCLUDED = {"examples/asset.simulator.yaml"}
# An api_token set in a YAML or JSON file: a filled-in asset, unless the value is a placeholder.
TOKEN_LINE = re.compile(r"""^\s*["']?api_token["']?\s*:\s*(.*?)\s*,?\s*$""", re.M)
# Placeholders: empty, null, ALL-CAPS-WORDS, templates ({{ }}, ${ }, <...>), or a nested
# value (an object or a list, as in a schema) rather than a token.
PLACEHOLDER = re.compile(r"^(|null|~|none|[A-Z][A-Z0-9_-]*|[\[{].*|.*(\{\{|\$\{|<).*)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(;.*)?$")
WHEEL_NAME = re.compile(r"^([^-]+)-([^-]+)-.*\.whl$")


class PackageError(Exception):
    """The bundle cannot be built: every reason, one line each."""

    def __init__(self, *lines: str) -> None:
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
        raise PackageError(*problems)
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
        raise PackageError(f"{REQUIREMENTS}: missing in {root}.")
    pins = read_pins(path)
    problems = [
        f"{REQUIREMENTS}: {name} must be pinned =={version} as in pyproject.toml "
        f"(found {pins.get(name, 'no pin')})."
        for name, version in sorted(pyproject_dependencies(root).items())
        if pins.get(name) != version
    ]
    if problems:
        raise PackageError(*problems)
    return pins


def tracked_files(root: Path, folders: Sequence[str] = BUNDLE_DIRS) -> Optional[set]:
    """The files git tracks under ``root`` (relative posix names), or None outside a git
    checkout (an unpacked bundle, a copy)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", *folders],
            capture_output=True,
            check=False,
        )
    except OSError:  # no git on this machine
        return None
    if proc.returncode != 0:
        return None
    return {name for name in proc.stdout.decode("utf-8", "replace").split("\0") if name}


def looks_filled_in(name: str, data: bytes) -> bool:
    """A YAML or JSON file whose api_token holds a value rather than a placeholder."""
    if not name.endswith((".yaml", ".yml", ".json")):
        return False
    values = TOKEN_LINE.findall(data.decode("utf-8", "replace"))
    return any(not PLACEHOLDER.match(v.split(" #", 1)[0].strip().strip("\"'")) for v in values)


def bundle_files(
    root: Path, names: Sequence[str] = BUNDLE_FILES, folders: Sequence[str] = BUNDLE_DIRS
) -> Iterator[Tuple[str, Path]]:
    """(name in the zip, file) for the plugin's own files: tracked by git (in a checkout), on
    the allow-list (a code folder not on it: .py), no caches, no dot or editor files."""
    for name in names:
        if not (root / name).is_file():
            raise PackageError(f"{name}: missing in {root}.")
        yield name, root / name
    tracked = tracked_files(root, folders)
    for folder in folders:
        if not (root / folder).is_dir():
            raise PackageError(f"{folder}/: missing in {root}.")
        for directory, subdirs, files in os.walk(root / folder):
            subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
            for file in sorted(files):
                path = Path(directory, file)
                name = path.relative_to(root).as_posix()
                if (
                    file.startswith(".")
                    or not file.endswith(ALLOWED.get(folder, (".py",)))
                    or name in EXCLUDED
                ):
                    continue
                if tracked is None or name in tracked:
                    yield name, path


def read_entries(
    root: Path, names: Sequence[str] = BUNDLE_FILES, folders: Sequence[str] = BUNDLE_DIRS
) -> Dict[str, bytes]:
    """The bundle's files by name (or those of ``names`` and ``folders``, for a platform
    export); refuses files that look like filled-in assets."""
    entries = {name: path.read_bytes() for name, path in bundle_files(root, names, folders)}
    filled = [name for name, data in entries.items() if looks_filled_in(name, data)]
    if filled:
        raise PackageError(
            *(
                f"{name}: looks like a filled-in asset (api_token is set); a bundle or export "
                "must not ship a token: put the placeholder back, or keep the file outside the "
                "plugin folder (e.g. asset.yaml, which git ignores)."
                for name in filled
            )
        )
    return entries


def _pip_download(
    requirements: Path, dest: Path, python: str, platform: str, find_links: Optional[Path]
) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
        "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
        "--abi", "cp" + python.replace(".", ""), "--abi", "abi3", "--abi", "none",
        "--platform", platform, "--dest", str(dest), "--requirement", str(requirements),
    ]  # fmt: skip
    if find_links is not None:
        command += ["--no-index", "--find-links", str(find_links)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        source = f"--wheels-from {find_links}" if find_links else "the package index"
        raise PackageError(
            f"pip download for CPython {python} on {platform} failed (from {source}):",
            *(errors[-3:] or proc.stderr.strip().splitlines()[-3:]),
            "without the package index, build with --no-wheels (the bundle then needs the "
            "index to install) or pass --wheels-from DIR holding the wheels.",
        )


def download_wheels(
    requirements: Path, pins: Dict[str, str], find_links: Optional[Path]
) -> Dict[str, bytes]:
    """{wheel file name: bytes} for every target; pure-Python wheels appear once."""
    with tempfile.TemporaryDirectory(prefix="runtime-package-") as tmp:
        dests = {pair: Path(tmp, "-".join(pair)) for pair in product(PYTHON_VERSIONS, PLATFORMS)}
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda t: _pip_download(requirements, dests[t], *t, find_links), dests))
        wheels: Dict[str, bytes] = {}
        for dest in dests.values():
            for wheel in sorted(dest.glob("*.whl")):
                data = wheel.read_bytes()
                if wheels.setdefault(wheel.name, data) != data:
                    raise PackageError(f"wheels: two different files named {wheel.name}.")
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
        raise PackageError(*problems)
    return wheels


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
    """Check the plugin, then write ``<output>/<id>-<version>.zip``. ``wheels_from``: a folder
    to take the wheels from, offline; ``keep_wheels``: a folder to copy them to (a cache)."""
    problems = lint_plugin(str(root))
    if problems:
        raise PackageError("the plugin does not validate:", *problems)
    plugin = load_plugin(root)
    pins = check_requirements(root)
    entries = read_entries(root)
    entries[REQUIREMENTS] = (root / REQUIREMENTS).read_bytes()
    found: Dict[str, bytes] = {}
    if wheels:
        found = download_wheels(root / REQUIREMENTS, pins, wheels_from)
        entries.update({f"wheels/{name}": data for name, data in found.items()})
        if keep_wheels is not None:
            try:
                shutil.rmtree(keep_wheels, ignore_errors=True)
                keep_wheels.mkdir(parents=True)
                for name, data in found.items():
                    (keep_wheels / name).write_bytes(data)
            except OSError as exc:
                raise _unwritable(keep_wheels, exc) from None
    entries[CHECKSUMS] = checksums(entries)
    target = (output or root / "dist") / f"{plugin.id}-{plugin.version}.zip"
    try:
        write_zip(target, entries)
    except OSError as exc:
        raise _unwritable(target.parent, exc) from None
    data = target.read_bytes()
    return Bundle(target, len(entries), len(found), len(data), hashlib.sha256(data).hexdigest())


def _unwritable(folder: Path, exc: OSError) -> PackageError:
    reason = (exc.strerror or type(exc).__name__).lower()
    return PackageError(
        f"cannot write the bundle to {folder} ({reason}); choose a writable folder with "
        "--output DIR."
    )


def cmd_package(args: argparse.Namespace, secrets: List[str]) -> int:
    """The CLI command: build, print the zip's path on stdout and a summary on stderr."""
    root = Path(args.root).resolve() if args.root else PLUGIN_ROOT
    output = Path(args.output).resolve() if args.output else root / "dist"
    wheels_from = Path(args.wheels_from).resolve() if args.wheels_from else None
    say = args.stderr.say
    if wheels_from is not None and not wheels_from.is_dir():
        say(f"invalid option: --wheels-from: {wheels_from} is not a folder.")
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
            say(line)
        return 1
    write_stdout(f"{bundle.path}\n".encode("utf-8", "surrogateescape"), "the bundle's path")
    say(
        f"{bundle.path.name}: {bundle.files} files, {bundle.wheels} wheels, "
        f"{bundle.size} bytes, sha256 {bundle.sha256}."
    )
    if args.no_wheels:
        say(
            "built with --no-wheels: the bundle has no wheels/ and installing it needs the "
            "package index (pip install -r requirements.txt)."
        )
    return 0
