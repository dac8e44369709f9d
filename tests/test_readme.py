"""The documentation is complete and its examples are right: docs/action.md documents every input
of every action, README.md every asset field, and each JSON/YAML example (inputs, an output
envelope, an asset) in README.md and docs/**/*.md validates against the plugin's schemas."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Set, Tuple

import pytest

from framework.manifest import Plugin, load_plugin, load_yaml, validator_for
from runtime.lint import _at, _subschemas
from tests.support import ROOT, copy_plugin, edit_text

# A fenced ```json or ```yaml block in Markdown: its language and its text.
FENCED_BLOCK = re.compile(r"^```[ \t]*(json|ya?ml)[ \t]*\n(.*?)^```", re.M | re.S)


def readme_examples(
    text: str, asset_fields: Set[str] = frozenset()
) -> Iterator[Tuple[int, str, Dict[str, Any]]]:
    """(line, kind, value) for each fenced json/yaml block that parses to an inputs, output
    envelope or asset shaped object (one holding every required asset field); kind is
    ``inputs``, ``output`` or ``asset``. Other blocks (shell, HTTP, fragments with ``...``
    that do not parse) are not examples and are skipped."""
    for match in FENCED_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        try:
            value = json.loads(match.group(2)) if match.group(1) == "json" else None
            value = load_yaml(match.group(2)) if value is None else value
        except Exception:  # noqa: S112 - not a parseable example: prose, a fragment, a template
            continue
        if not isinstance(value, dict):
            continue
        if "status_code" in value:
            yield line, "output", value
        elif "path_parameters" in value or "parameters" in value:
            yield line, "inputs", value
        elif asset_fields and asset_fields <= set(value):
            yield line, "asset", value


# Where each thing is documented: the inputs on the action's page, the asset fields in the README.
README = "README.md"
INPUTS_PAGE = "docs/action.md"


def doc_pages(root: Path) -> List[str]:
    """README.md and every docs/**/*.md that exists, as paths relative to ``root``."""
    pages = [README] if (root / README).exists() else []
    pages += sorted(p.relative_to(root).as_posix() for p in (root / "docs").rglob("*.md"))
    return pages


def check_readme(plugin: Plugin, validators: Mapping[str, Any], problems: List[str]) -> None:
    """docs/action.md documents every input property, README.md every asset property; the
    examples of README.md and docs/**/*.md validate.

    ``validators`` maps ``asset`` and ``inputs:ACTION``/``output:ACTION`` to a validator, for
    the schemas that are valid (examples are not checked against a broken schema)."""
    for page in (README, INPUTS_PAGE):
        if not (plugin.root / page).exists():
            problems.append(f"{page}: missing.")
    if problems:
        return
    inputs_text = (plugin.root / INPUTS_PAGE).read_text(encoding="utf-8")
    for action in plugin.actions.values():
        for _, sub in _subschemas(action.input_schema):
            for name in sub.get("properties") or {}:
                if f"`{name}`" not in inputs_text:
                    problems.append(
                        f"{INPUTS_PAGE}: does not document input {name} of {action.id}."
                    )
    readme_text = (plugin.root / README).read_text(encoding="utf-8")
    for name in plugin.asset.schema.get("properties", {}):
        if f"`{name}`" not in readme_text:
            problems.append(f"{README}: does not document asset field {name}.")
    for page in doc_pages(plugin.root):
        check_examples(
            page, (plugin.root / page).read_text(encoding="utf-8"), plugin, validators, problems
        )


def check_examples(
    page: str, text: str, plugin: Plugin, validators: Mapping[str, Any], problems: List[str]
) -> None:
    """Each example of ``text`` (the page ``page``) validates against its schema."""
    asset_fields = set(plugin.asset.schema.get("required", []))
    for line, kind, value in readme_examples(text, asset_fields):
        if kind == "asset":
            candidates = [("the asset", validators.get("asset"))]
        else:
            candidates = [
                (f"{kind} of {action}", validators.get(f"{kind}:{action}"))
                for action in plugin.actions
            ]
        if any(validator is None for _, validator in candidates):
            continue
        failures = []
        for label, validator in candidates:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
            if not errors:
                break
            failures.append((label, errors))
        else:
            for label, errors in failures:
                for error in errors:
                    problems.append(
                        f"{page}: line {line}: example ({label}) invalid at "
                        f"{_at(error.absolute_path)}: {error.message}."
                    )


def readme_problems(root: Path, expect_some: bool = True) -> List[str]:
    plugin = load_plugin(root)
    validators = {"asset": validator_for(plugin.asset.schema)}
    for action in plugin.actions.values():
        validators[f"inputs:{action.id}"] = validator_for(action.input_schema)
        validators[f"output:{action.id}"] = validator_for(action.output_schema)
    problems: List[str] = []
    check_readme(plugin, validators, problems)
    if expect_some:
        assert problems, "the broken README passed"
    return problems


def has(problems: List[str], *parts: str) -> bool:
    return any(all(part in p for part in parts) for p in problems)


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    root = copy_plugin(tmp_path / "plugin")
    shutil.copytree(ROOT / "docs", root / "docs")
    return root


def test_the_readme_is_complete_and_its_examples_validate() -> None:
    assert readme_problems(ROOT, expect_some=False) == []


def test_readme_examples_are_found() -> None:
    kinds = [kind for _, kind, _ in readme_examples((ROOT / "README.md").read_text())]
    assert "inputs" in kinds and "output" in kinds


def test_docs_pages_are_read_and_their_examples_are_found() -> None:
    pages = doc_pages(ROOT)
    assert pages[0] == "README.md" and INPUTS_PAGE in pages
    assert "docs/platforms/swimlane.md" in pages
    kinds = [kind for _, kind, _ in readme_examples((ROOT / INPUTS_PAGE).read_text())]
    assert "inputs" in kinds and "output" in kinds


def test_docs_example_that_violates_the_schema(copy: Path) -> None:
    page = copy / "docs" / "action.md"
    edit_text(
        page, '{"status_code": 500, "reason": "Internal Server Error",', '{"status_code": "500",'
    )
    assert has(
        readme_problems(copy),
        "docs/action.md: line",
        "example (output of get_threat_events) invalid at status_code: '500' is not of type",
    )


def test_docs_yaml_asset_example_in_a_nested_page_is_checked(copy: Path) -> None:
    block = (
        "\n```yaml\nurl: https://usea1-acme.sentinelone.net\napi_token: t\nmax_retries: 99\n```\n"
    )
    with open(copy / "docs" / "platforms" / "shuffle.md", "a", encoding="utf-8") as handle:
        handle.write(block)
    assert has(
        readme_problems(copy),
        "docs/platforms/shuffle.md: line",
        "example (the asset) invalid at max_retries: 99 is greater than",
    )


def test_missing_inputs_page(copy: Path) -> None:
    (copy / "docs" / "action.md").unlink()
    assert readme_problems(copy) == ["docs/action.md: missing."]


def test_readme_inputs_example_that_violates_the_schema(copy: Path) -> None:
    readme = copy / "README.md"
    edit_text(readme, '"parameters": {"limit": 100,', '"parameters": {"limit": 5000,')
    lines = readme.read_text().splitlines()
    changed = next(n for n, text in enumerate(lines) if '"limit": 5000' in text)
    fence = max(n for n in range(changed) if lines[n].startswith("```json"))
    line = fence + 2  # the block's first line (1-based)
    assert has(
        readme_problems(copy),
        f"README.md: line {line}: example (inputs of get_threat_events) invalid at "
        "parameters.limit: 5000 is greater than the maximum of 1000.",
    )


def test_readme_envelope_example_that_violates_the_schema(copy: Path) -> None:
    edit_text(copy / "README.md", '{"status_code": 200, "reason": "OK",', '{"status_code": "OK",')
    assert has(
        readme_problems(copy),
        "example (output of get_threat_events) invalid at status_code: 'OK' is not of type",
    )


def test_readme_yaml_asset_example_is_checked(copy: Path) -> None:
    block = "\n```yaml\nurl: https://usea1-acme.sentinelone.net\napi_token: t\ntimeout: -5\n```\n"
    with open(copy / "README.md", "a", encoding="utf-8") as handle:
        handle.write(block)
    assert has(readme_problems(copy), "example (the asset) invalid at timeout: -5 is less than")


def test_readme_blocks_that_are_not_examples_are_ignored(copy: Path) -> None:
    blocks = (
        '\n```json\n{"status_code": 200, ...}\n```\n'  # a fragment: does not parse
        "\n```json\n[1, 2]\n```\n"  # parses, but is no inputs, envelope or asset
        "\n```yaml\nname: x\nsteps: [1]\n```\n"
        "\n```sh\nmake test\n```\n"
    )
    with open(copy / "README.md", "a", encoding="utf-8") as handle:
        handle.write(blocks)
    assert readme_problems(copy, expect_some=False) == []


def test_readme_missing_an_input_property(copy: Path) -> None:
    page = copy / "docs" / "action.md"
    page.write_text(page.read_text().replace("`processName__like`", "processName__like"))
    assert readme_problems(copy) == [
        "docs/action.md: does not document input processName__like of get_threat_events."
    ]


def test_readme_missing_an_asset_field(copy: Path) -> None:
    text = (copy / "README.md").read_text().replace("`ca_bundle`", "ca_bundle")
    (copy / "README.md").write_text(text)
    assert readme_problems(copy) == ["README.md: does not document asset field ca_bundle."]
