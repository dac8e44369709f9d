"""``runtime validate`` catches each kind of packaging mistake, with its file and location.

Each test copies the plugin into a temp dir, breaks one thing, and checks the copy.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from runtime.lint import lint_plugin, png_size
from tests.support import ROOT, copy_plugin, edit_text, run_cli

INPUT_SCHEMA = "schemas/get_threat_events.input.schema.json"
OUTPUT_SCHEMA = "schemas/get_threat_events.output.schema.json"
ASSET_SCHEMA = "schemas/asset.schema.json"


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    """A complete copy of the plugin (what `runtime validate` reads), code included."""
    return copy_plugin(tmp_path / "plugin")


def edit_json(path: Path, change: Callable[[Dict[str, Any]], Any]) -> None:
    value = json.loads(path.read_text(encoding="utf-8"))
    change(value)
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def problems_of(root: Path) -> List[str]:
    problems = lint_plugin(str(root))
    assert problems, "the broken copy passed validation"
    return problems


def has(problems: List[str], *parts: str) -> bool:
    return any(all(part in p for part in parts) for p in problems)


def test_an_unbroken_copy_is_valid(copy: Path) -> None:
    assert lint_plugin(str(copy)) == []


def test_the_cli_reports_every_problem_at_once(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "method: GET", "method: FETCH")
    edit_text(copy / "plugin.yaml", "manifest_version: 1", "manifest_version: 1\ncolour: red")
    result = run_cli("validate", "--root", str(copy))
    assert result.code == 1
    assert "plugin.yaml: actions.get_threat_events.method: 'FETCH' is not one of" in result.stderr
    assert "plugin.yaml: (top level): Additional properties are not allowed" in result.stderr
    assert "2 problem(s) found." in result.stderr


def test_several_kinds_of_mistakes_are_reported_together(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s["properties"]["timeout"].update(default=-1))
    (copy / "icons" / "sentinelone-48.png").unlink()
    edit_text(copy / "plugin.yaml", "version: 1.0.0", "version: 1.0.1")
    result = run_cli("validate", "--root", str(copy))
    assert result.code == 1
    assert "3 problem(s) found." in result.stderr
    assert run_cli("validate").code == 0  # the real plugin, by contrast


# --- plugin.yaml and the files it references -----------------------------------------------------


def test_meta_schema_violation(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "path: /web/api/v2.1/threats/", "path: web/api/v2.1/threats/")
    assert has(problems_of(copy), "plugin.yaml: actions.get_threat_events.path:", "does not match")


def test_missing_referenced_schema(copy: Path) -> None:
    (copy / INPUT_SCHEMA).unlink()
    assert problems_of(copy) == [
        f"plugin.yaml: actions.get_threat_events.input_schema: file {INPUT_SCHEMA} does not exist."
    ]


def test_referenced_schema_that_is_not_json(copy: Path) -> None:
    (copy / ASSET_SCHEMA).write_text("{'url': ", encoding="utf-8")
    assert has(problems_of(copy), f"{ASSET_SCHEMA}: not valid JSON")


# --- schemas -------------------------------------------------------------------------------------


def test_schema_invalid_for_its_draft(copy: Path) -> None:
    def break_limit(schema: Dict[str, Any]) -> None:
        schema["properties"]["parameters"]["properties"]["limit"]["type"] = "int"

    edit_json(copy / INPUT_SCHEMA, break_limit)
    assert has(
        problems_of(copy),
        f"{INPUT_SCHEMA}: /properties/parameters/properties/limit/type: not a valid schema for "
        "https://json-schema.org/draft/2020-12/schema:",
    )


def test_schema_without_a_draft(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s.pop("$schema"))
    assert f"{ASSET_SCHEMA}: /: declares no $schema (draft)." in problems_of(copy)


def test_schema_with_an_unknown_draft(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s.update({"$schema": "https://example.com/draft-99"}))
    assert has(problems_of(copy), f"{ASSET_SCHEMA}: /$schema: https://example.com/draft-99 is not")


def test_default_that_violates_its_own_schema(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s["properties"]["max_retries"].update(default=11))
    assert (
        f"{ASSET_SCHEMA}: /properties/max_retries/default: 11 is invalid against its own schema: "
        "11 is greater than the maximum of 10."
    ) in problems_of(copy)


def test_schema_example_that_violates_the_schema(copy: Path) -> None:
    edit_json(copy / OUTPUT_SCHEMA, lambda s: s["examples"][0].update(status_code="200"))
    assert (
        f"{OUTPUT_SCHEMA}: /examples/0: invalid at status_code: '200' is not of type 'integer'."
    ) in problems_of(copy)


def test_nested_example_is_checked_too(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s["properties"]["url"].update(examples=["ftp://x"]))
    assert has(problems_of(copy), f"{ASSET_SCHEMA}: /properties/url/examples/0: invalid at")


def test_seed_example_must_stay_in_the_output_schema(copy: Path) -> None:
    seed = json.loads((ROOT / OUTPUT_SCHEMA).read_text(encoding="utf-8"))["examples"][0]
    assert seed["status_code"] == 200
    assert seed["json_body"]["pagination"]["totalItems"] == len(seed["json_body"]["data"]) == 2
    edit_json(copy / OUTPUT_SCHEMA, lambda s: s.pop("examples"))
    assert has(problems_of(copy), f"{OUTPUT_SCHEMA}: /examples: missing")


# --- classes -------------------------------------------------------------------------------------


def test_class_ref_that_does_not_import(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "actions.get_threat_events:GetThreatEvents", "actions.nope:X")
    assert has(
        problems_of(copy),
        "plugin.yaml: actions.get_threat_events.class: actions.nope:X does not import "
        "(ModuleNotFoundError: No module named 'actions.nope').",
    )


def test_class_ref_naming_a_missing_attribute(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "sentinelone:SentinelOneConnector", "sentinelone:Gone")
    assert has(problems_of(copy), "asset.connector: connectors.sentinelone:Gone does not import")


def test_the_copy_s_own_modules_are_imported(copy: Path) -> None:
    """A syntax error in the copy is found although this process imported the repo's module."""
    import actions.get_threat_events as original

    module = copy / "actions" / "get_threat_events.py"
    module.write_text(module.read_text() + "\ndef broken(:\n", encoding="utf-8")
    path_before, modules_before = list(sys.path), dict(sys.modules)
    assert has(
        problems_of(copy),
        "actions.get_threat_events:GetThreatEvents does not import (SyntaxError:",
        str(module),
    )
    assert sys.path == path_before
    assert sys.modules["actions.get_threat_events"] is original
    assert {k: v for k, v in sys.modules.items() if k in modules_before} == modules_before


def test_class_of_the_wrong_kind(copy: Path) -> None:
    edit_text(
        copy / "plugin.yaml",
        "class: actions.get_threat_events:GetThreatEvents",
        "class: connectors.sentinelone:SentinelOneConnector",
    )
    assert problems_of(copy) == [
        "plugin.yaml: actions.get_threat_events.class: connectors.sentinelone:SentinelOneConnector"
        " is not a subclass of framework.action:Action."
    ]


def test_class_ref_to_something_that_is_not_a_class(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "sentinelone:SentinelOneConnector", "sentinelone:is_loopback")
    problem = "asset.connector: connectors.sentinelone:is_loopback is a function"
    assert has(problems_of(copy), problem)


def test_connector_test_method_must_exist(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "  test: test_connection", "  test: ping")
    assert has(problems_of(copy), "plugin.yaml: asset.test:", "has no method ping.")


# --- icons ---------------------------------------------------------------------------------------


def test_declared_pngs_have_their_sizes() -> None:
    for size in (48, 128, 256):
        assert png_size(ROOT / "icons" / f"sentinelone-{size}.png") == (size, size)


def test_missing_png_icon(copy: Path) -> None:
    (copy / "icons" / "sentinelone-128.png").unlink()
    assert problems_of(copy) == [
        "plugin.yaml: icons.128: file icons/sentinelone-128.png does not exist."
    ]


def test_missing_svg_icon(copy: Path) -> None:
    (copy / "icons" / "sentinelone.svg").unlink()
    assert problems_of(copy) == ["plugin.yaml: icon: file icons/sentinelone.svg does not exist."]


def test_png_of_the_wrong_size(copy: Path) -> None:
    shutil.copy(copy / "icons" / "sentinelone-256.png", copy / "icons" / "sentinelone-48.png")
    assert has(
        problems_of(copy),
        "icons/sentinelone-48.png: is 256x256 pixels but plugin.yaml icons.48 declares 48x48",
    )


def test_icon_that_is_not_a_png(copy: Path) -> None:
    shutil.copy(copy / "icons" / "sentinelone.svg", copy / "icons" / "sentinelone-256.png")
    assert problems_of(copy) == [
        "icons/sentinelone-256.png: not a PNG image; see plugin.yaml icons.256."
    ]


# --- identity and secrets ------------------------------------------------------------------------


def test_version_that_is_not_semver(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "version: 1.0.0", "version: '1.0'")
    assert has(problems_of(copy), "plugin.yaml: version: '1.0' does not match")


def test_version_that_differs_from_pyproject(copy: Path) -> None:
    edit_text(copy / "plugin.yaml", "version: 1.0.0", "version: 1.0.1")
    assert problems_of(copy) == ["plugin.yaml: version: 1.0.1 differs from pyproject.toml's 1.0.0."]


def test_secret_without_format_password(copy: Path) -> None:
    edit_json(copy / ASSET_SCHEMA, lambda s: s["properties"]["api_token"].pop("format"))
    assert problems_of(copy) == [
        "plugin.yaml: asset.secrets: api_token is not a format: password field of the asset."
    ]


def test_format_password_field_not_declared_secret(copy: Path) -> None:
    edit_json(
        copy / ASSET_SCHEMA, lambda s: s["properties"]["http_proxy"].update(format="password")
    )
    assert problems_of(copy) == [
        "plugin.yaml: asset.secrets: http_proxy (format: password) is missing."
    ]
