"""framework.runner.prepare_asset: an accepted asset is remembered by value, never by identity."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace
from typing import Any

import pytest

from framework import runner
from framework.inputs import InputError
from framework.manifest import AssetSpec, load_plugin
from framework.runner import prepare_asset

PLUGIN = load_plugin()
GOOD = {"url": "https://usea1-acme.sentinelone.net", "api_token": "a-token-of-30-characters-00000"}


def test_the_same_dict_changed_in_place_is_checked_again() -> None:
    asset = dict(GOOD)
    assert prepare_asset(PLUGIN, asset)["api_token"] == GOOD["api_token"]
    asset["api_token"] = "PASTE-YOUR-API-TOKEN-HERE"  # the template's placeholder
    with pytest.raises(InputError, match="placeholder"):
        prepare_asset(PLUGIN, asset)


def test_true_is_not_1() -> None:
    assert prepare_asset(PLUGIN, dict(GOOD, verify_ssl=True))["verify_ssl"] is True
    with pytest.raises(InputError, match="verify_ssl"):
        prepare_asset(PLUGIN, dict(GOOD, verify_ssl=1))


def test_each_call_gets_a_new_dict() -> None:
    first = prepare_asset(PLUGIN, dict(GOOD))
    first["timeout"] = 999
    second = prepare_asset(PLUGIN, dict(GOOD))
    assert second is not first and second["timeout"] == 30


def test_a_remembered_asset_says_its_warnings_again(caplog: Any) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"region": {"type": "string", "x-known": ["eu", "us"]}},
    }
    spec = AssetSpec("a", "A", "", "a.json", schema, "m:C", ())
    plugin: Any = SimpleNamespace(asset=spec)
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        assert prepare_asset(plugin, {"region": "antarctica"}) == {"region": "antarctica"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("not a known value" in w for w in warnings)


def _plugin(properties: dict) -> Any:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
    }
    return SimpleNamespace(asset=AssetSpec("a", "A", "", "a.json", schema, "m:C", ()))


def test_an_accepted_asset_is_remembered_and_used_again() -> None:
    first = prepare_asset(PLUGIN, dict(GOOD))
    remembered = runner._ACCEPTED[id(PLUGIN.asset.schema)]
    assert remembered[2] == first
    assert prepare_asset(PLUGIN, dict(GOOD)) == first
    assert runner._ACCEPTED[id(PLUGIN.asset.schema)] is remembered  # a hit stores nothing


def test_minus_zero_is_not_zero() -> None:
    plugin = _plugin({"x": {"type": "number"}})
    assert math.copysign(1, prepare_asset(plugin, {"x": 0.0})["x"]) == 1
    assert math.copysign(1, prepare_asset(plugin, {"x": -0.0})["x"]) == -1


def test_an_asset_whose_text_became_a_list_is_not_remembered() -> None:
    plugin = _plugin({"tags": {"type": "array", "items": {"type": "string"}}})
    first = prepare_asset(plugin, {"tags": "x,y"})
    first["tags"].append("changed")
    assert prepare_asset(plugin, {"tags": "x,y"}) == {"tags": ["x", "y"]}
