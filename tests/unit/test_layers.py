"""The layers depend one way only: exporters, runtime -> actions, connectors -> framework.

Read from the source (every import statement, at any depth), so a lazy import inside a function
counts as much as one at the top. The framework reaches the product only through the
``module:Class`` strings of plugin.yaml; nothing that ships imports the simulator or the tests."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
OURS = {"framework", "connectors", "actions", "runtime", "exporters", "simulator", "tests", "bench"}
ALLOWED: Dict[str, Set[str]] = {
    "framework": {"framework"},
    "connectors": {"framework", "connectors"},
    "actions": {"framework", "connectors", "actions"},
    "runtime": {"framework", "runtime"},  # the product only through plugin.yaml's class refs
    "exporters": {"framework", "runtime", "exporters"},
    "simulator": {"simulator"},  # an independent SentinelOne: shares no code with the plugin
}
# The command line sits on top of everything: `python -m runtime export PLATFORM` hands over to
# the exporters (imported only for that command); no other module of runtime/ knows them.
EXTRA = {"runtime/cli.py": {"exporters"}}


def imported_packages(path: Path) -> Set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    wrong = {
        name: sorted(imported_packages(path) - ALLOWED[layer] - EXTRA.get(name, set()))
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in [path.relative_to(ROOT).as_posix()]
    }
    assert {name: packages for name, packages in wrong.items() if packages} == {}
