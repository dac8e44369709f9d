"""The layers depend one way only: exporters, runtime -> actions, connectors -> framework; and no
two modules import each other, however indirectly.

Read from the source (every import statement, at any depth), so a lazy import inside a function
counts as much as one at the top. The framework reaches the product only through the
``module:Class`` strings of plugin.yaml; nothing that ships imports the simulator or the tests."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

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


# Every module of ours but the tests.
MODULES = ("framework", "connectors", "actions", "runtime", "exporters", "simulator", "bench")


def import_graph(root: Path, tops: Iterable[str]) -> Dict[str, Set[str]]:
    """{module: the modules of ours it imports}, ``from runtime import streaming`` meaning
    runtime.streaming and ``from runtime.output import CliError`` runtime.output."""
    paths = {}
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: Dict[str, Set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")[: len(package.split(".")) + 1 - node.level]
                base = ".".join([*parts, node.module] if node.module else parts)
                base = base if node.level else node.module or ""
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_module_imports_itself_through_others() -> None:
    assert circle(import_graph(ROOT, MODULES)) is None


def test_a_circle_through_a_lazy_or_relative_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import f\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from . import c\n")
    (tmp_path / "pkg" / "c.py").write_text("def g():\n    import pkg.a\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg", "pkg.c"},
        "pkg.c": {"pkg.a"},
    }
    assert set(circle(graph) or []) == {"pkg.a", "pkg.b", "pkg.c"}
