"""``python -m runtime package``: dist/<id>-<version>.zip, importable and installable offline:
the plugin's tracked, allow-listed files (a pasted token or an editor file never ships), pinned
requirements.txt, wheels/ for every target, SHA256SUMS. ``runtime run`` never imports this module.
"""

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from framework.errors import os_reason
from framework.manifest import PLUGIN_ROOT, load_plugin
from runtime.archive import zip_bytes
from runtime.lint import lint_plugin
from runtime.output import invalid, write_stdout

BUNDLE_FILES = ("plugin.yaml", "README.md", "LICENSE", "NOTICE", "CHANGELOG.md")
REQUIREMENTS = "requirements.txt"
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12")
# manylinux2014 = glibc 2.17: RHEL/CentOS 7 and newer, Debian 9+, Ubuntu 18.04+.
PLATFORMS = ("manylinux2014_x86_64", "manylinux2014_aarch64")
# The bundled folders, each with the file types it may ship (other folders: .py).
ALLOWED = {
    "framework": (".py",), "connectors": (".py",), "actions": (".py",), "schemas": (".json",),
    "icons": (".png", ".svg"), "runtime": (".py", "commands.json"), "examples": (".yaml",),
    "docs": (".md",),
}  # fmt: skip
EXCLUDED = {"examples/asset.simulator.yaml"}  # belongs to the simulator, which stays out
# An api_token set in a YAML or JSON file: a filled-in asset, unless the value is a placeholder
# (empty, null, ALL-CAPS-WORDS, a template: {{ }}, ${ }, <...>, or a nested object or list).
TOKEN_LINE = re.compile(r"""^\s*["']?api_token["']?\s*:\s*(.*?)\s*,?\s*$""", re.M)
PLACEHOLDER = re.compile(r"^(|null|~|none|[A-Z][A-Z0-9_-]*|[\[{].*|.*(\{\{|\$\{|<).*)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(;.*)?$")


class PackageError(Exception):
    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)


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
        if match:
            pins[normalize(match.group(1))] = match.group(2)
        else:
            problems.append(f"{path.name}: line {number}: {line!r} is not an exact pin (name==x).")
    if problems:
        raise PackageError(*problems)
    return pins


def pyproject_dependencies(root: Path) -> Dict[str, str]:
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
    found = re.findall(r'"([A-Za-z0-9._-]+)\s*==\s*([^";\s]+)', block.group(1) if block else "")
    return {normalize(name): version for name, version in found}


def read_entries(
    root: Path, names: Sequence[str] = BUNDLE_FILES, folders: Sequence[str] = tuple(ALLOWED)
) -> Dict[str, bytes]:
    """{name in the zip: bytes} of the plugin's tracked, allow-listed files; no filled-in asset."""
    entries: Dict[str, bytes] = {}
    for name in names:
        if not (root / name).is_file():
            raise PackageError(f"{name}: missing in {root}.")
        entries[name] = (root / name).read_bytes()
    tracked: Optional[set] = None  # outside a git checkout (an unpacked bundle, a copy): all
    with contextlib.suppress(OSError):  # no git on this machine
        command = ["git", "-C", str(root), "ls-files", "-z", "--", *folders]
        proc = subprocess.run(command, capture_output=True, check=False)
        if proc.returncode == 0:
            tracked = set(proc.stdout.decode("utf-8", "replace").split("\0"))
    for folder in folders:
        if not (root / folder).is_dir():
            raise PackageError(f"{folder}/: missing in {root}.")
        for directory, subdirs, files in os.walk(root / folder):
            subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
            for file in sorted(files):
                name = Path(directory, file).relative_to(root).as_posix()
                allowed = file.endswith(ALLOWED.get(folder, (".py",))) and name not in EXCLUDED
                if allowed and not file.startswith(".") and (tracked is None or name in tracked):
                    entries[name] = (root / name).read_bytes()
    filled = [
        f"{name}: looks like a filled-in asset (api_token is set); a bundle or export must not "
        "ship a token: put the placeholder back, or keep the file outside the plugin folder (e.g. "
        "asset.yaml, which git ignores)."
        for name, data in entries.items()
        if name.endswith((".yaml", ".yml", ".json"))
        and any(
            not PLACEHOLDER.match(value.split(" #", 1)[0].strip().strip("\"'"))
            for value in TOKEN_LINE.findall(data.decode("utf-8", "replace"))
        )
    ]
    if filled:
        raise PackageError(*filled)
    return entries


def download_wheels(
    requirements: Path, pins: Dict[str, str], find_links: Optional[Path]
) -> Dict[str, bytes]:
    """{wheel file name: bytes} for every target; pure-Python wheels appear once."""

    def download(python: str, platform: str, dest: Path) -> None:
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

    with tempfile.TemporaryDirectory(prefix="runtime-package-") as tmp:
        dests = {pair: Path(tmp, "-".join(pair)) for pair in product(PYTHON_VERSIONS, PLATFORMS)}
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda pair: download(*pair, dests[pair]), dests))
        wheels: Dict[str, bytes] = {}
        for dest in dests.values():
            for wheel in sorted(dest.glob("*.whl")):
                data = wheel.read_bytes()
                if wheels.setdefault(wheel.name, data) != data:
                    raise PackageError(f"wheels: two different files named {wheel.name}.")
    problems = []
    for name in sorted(wheels):  # pip saves only valid wheel names: project-version-...
        project, version = name.split("-")[:2]
        if pins.get(normalize(project)) != version:
            problems.append(
                f"{REQUIREMENTS}: the wheel {name} was pulled in as a dependency; pin it "
                f"({normalize(project)}=={version}) so that every install is the same."
            )
    if problems:
        raise PackageError(*problems)
    return wheels


def build(root: Path, output: Path, wheels: bool, wheels_from: Optional[Path]) -> Tuple[Path, str]:
    problems = lint_plugin(str(root))
    if problems:
        raise PackageError("the plugin does not validate:", *problems)
    plugin = load_plugin(root)
    if not (root / REQUIREMENTS).is_file():
        raise PackageError(f"{REQUIREMENTS}: missing in {root}.")
    pins = read_pins(root / REQUIREMENTS)
    problems = [
        f"{REQUIREMENTS}: {name} must be pinned =={version} as in pyproject.toml "
        f"(found {pins.get(name, 'no pin')})."
        for name, version in sorted(pyproject_dependencies(root).items())
        if pins.get(name) != version
    ]
    if problems:
        raise PackageError(*problems)
    entries = read_entries(root)
    entries[REQUIREMENTS] = (root / REQUIREMENTS).read_bytes()
    found = download_wheels(root / REQUIREMENTS, pins, wheels_from) if wheels else {}
    entries.update({f"wheels/{name}": data for name, data in found.items()})
    if wheels and wheels_from is None:  # kept for a later --wheels-from
        shutil.rmtree(output / "wheels", ignore_errors=True)
        _write(output / "wheels", found)
    sums = [f"{hashlib.sha256(entries[name]).hexdigest()}  {name}\n" for name in sorted(entries)]
    entries["SHA256SUMS"] = "".join(sums).encode("ascii")
    target = output / f"{plugin.id}-{plugin.version}.zip"
    data = zip_bytes(entries)
    _write(output, {target.name: data})
    summary = f"{len(entries)} files, {len(found)} wheels, {len(data)} bytes"
    return target, f"{target.name}: {summary}, sha256 {hashlib.sha256(data).hexdigest()}."


def _write(folder: Path, files: Dict[str, bytes]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / f"{name}.partial").write_bytes(data)
            os.replace(folder / f"{name}.partial", folder / name)
    except OSError as exc:
        reason = os_reason(exc)
        raise PackageError(
            f"cannot write the bundle to {folder} ({reason}); choose a writable folder with "
            "--output DIR."
        ) from None


def cmd_package(args: argparse.Namespace, secrets: List[str]) -> int:
    root = Path(args.root).resolve() if args.root else PLUGIN_ROOT
    output = Path(args.output).resolve() if args.output else root / "dist"
    wheels_from = Path(args.wheels_from).resolve() if args.wheels_from else None
    say = args.stderr.say
    if wheels_from is not None and not wheels_from.is_dir():
        raise invalid(f"--wheels-from: {wheels_from} is not a folder.")
    try:
        target, summary = build(root, output, not args.no_wheels, wheels_from)
    except PackageError as exc:
        say("\n".join(exc.lines))
        return 1
    write_stdout(f"{target}\n".encode("utf-8", "surrogateescape"), "the bundle's path")
    say(summary)
    if args.no_wheels:
        say(
            "built with --no-wheels: the bundle has no wheels/ and installing it needs the "
            "package index (pip install -r requirements.txt)."
        )
    return 0
