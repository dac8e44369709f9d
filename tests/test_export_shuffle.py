"""python -m runtime export shuffle: the app tree, api.yaml from the manifest, the generated
method's signature, and the adapter the app runs (in-process against the simulator: no
shuffle-sdk here; tests/platforms/test_shuffle.py runs the app under the SDK)."""

from __future__ import annotations

import ast
import base64
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

import simulator
from exporters.shuffle.entry import run
from framework.manifest import Plugin
from tests.support import (
    ROOT,
    SEED_THREAT,
    TOKEN,
    copy_plugin,
    edit_text,
    run_cli,
    synthetic_threat,
)
from tests.support import tree_files as files

APP = "s1_threat_events/1.0.0"
TREE = [
    "SHUFFLE-EXPORT.md",
    f"{APP}/Dockerfile",
    f"{APP}/LICENSE",
    f"{APP}/NOTICE",
    f"{APP}/api.yaml",
    f"{APP}/requirements.txt",
    f"{APP}/src/app.py",
    f"{APP}/src/flat.py",
    f"{APP}/src/shuffle_adapter.py",
    "s1_threat_events/README.md",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "shuffle"
    result = run_cli("export", "shuffle", "--output", str(folder))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        str(folder),
        str(folder.parent / "shuffle-s1_threat_events-1.0.0.zip"),
    ]
    return folder


@pytest.fixture(scope="module")
def api(tree: Path) -> Dict[str, Any]:
    return yaml.safe_load((tree / APP / "api.yaml").read_text(encoding="utf-8"))


def by_name(parameters: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {p["name"]: p for p in parameters}


# --- the tree -----------------------------------------------------------------------------------


def test_the_tree_is_one_app_folder_with_the_plugin_core(tree: Path) -> None:
    names = sorted(files(tree))
    core = [n for n in names if n not in TREE]
    assert [n for n in names if n in TREE] == TREE
    assert all(n.startswith(f"{APP}/src/") for n in core)
    core = [n[len(f"{APP}/src/") :] for n in core]
    assert {
        "plugin.yaml",
        "framework/runner.py",
        "connectors/sentinelone.py",
        "actions/get_threat_events.py",
        "schemas/get_threat_events.input.schema.json",
    } <= set(core)
    assert not [n for n in core if n.startswith(("runtime/", "tests/", "simulator/", "exporters/"))]
    assert (tree / APP / "src/plugin.yaml").read_bytes() == (ROOT / "plugin.yaml").read_bytes()
    with zipfile.ZipFile(tree.parent / "shuffle-s1_threat_events-1.0.0.zip") as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == files(tree)


def test_export_is_byte_reproducible(tree: Path, tmp_path: Path) -> None:
    again = tmp_path / "shuffle"
    assert run_cli("export", "shuffle", "--output", str(again)).code == 0
    assert files(again) == files(tree)


def test_requirements_leave_the_sdk_and_its_pins_to_the_image(tree: Path, plugin: Plugin) -> None:
    # The base image holds shuffle-sdk: a pin would reinstall it and its requests and urllib3.
    lines = (tree / APP / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if line.lower().startswith("shuffle")]
    assert "jsonschema==4.25.1" in lines and "PyYAML==6.0.3" in lines
    projects = {line.split("==")[0].lower() for line in lines if not line.startswith("#")}
    assert not projects & {"requests", "urllib3", "certifi", "idna", "charset-normalizer"}
    assert "rpds-py" in projects  # jsonschema's own dependencies travel too


def test_dockerfile_builds_on_the_sdk_image(tree: Path, plugin: Plugin) -> None:
    lines = (tree / APP / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"FROM {plugin.platforms['shuffle']['base_image']} AS base"
    assert "COPY src /app" in lines and lines[-1] == 'CMD ["python", "app.py"]'
    # Shuffle's own template: a builder stage with the Alpine build packages.
    assert "FROM base AS builder" in lines
    assert (
        "RUN apk --no-cache add --update alpine-sdk libffi libffi-dev musl-dev openssl-dev git"
        in lines
    )
    assert 'RUN pip install --no-cache-dir --prefix="/install" -r /requirements.txt' in lines


def test_readme_says_how_to_load_it_and_what_a_workflow_sees(tree: Path, plugin: Plugin) -> None:
    text = (tree / "s1_threat_events/README.md").read_text(encoding="utf-8")
    for needle in [
        "SHUFFLE_APP_HOTLOAD_FOLDER",
        "Download from URL",
        "| `api_token` | yes |",
        "| `threat_id` | yes |",
        "status_code",
        '"success": false',
        "shuffle-sdk==0.0.41",
        "## Release notes",
        "- Get Threat Events: the events of a SentinelOne threat",
    ]:
        assert needle in text, needle
    assert (tree / APP / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


def test_a_hostile_title_is_quoted_in_app_py(tmp_path: Path) -> None:
    # A double quote, triple quotes and a backslash in the manifest's texts: app.py parses
    # and holds them as strings (api.yaml is a YAML dump).
    root = copy_plugin(tmp_path / "plugin")
    edit_text(root / "plugin.yaml", "title: Get Threat Events", 'title: Get """Threat\\" Events')
    edit_text(root / "plugin.yaml", "into a SOAR playbook", 'into a """SOAR""" playbook')
    out = tmp_path / "o"
    assert run_cli("export", "shuffle", "--root", str(root), "--output", str(out)).code == 0
    source = (out / APP / "src/app.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert '"""Threat' not in source and '"""SOAR' not in source  # not pasted into the code
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert {n.name for n in cls.body if isinstance(n, ast.FunctionDef)} == {"get_threat_events"}


def test_parameter_descriptions_are_one_sentence(api: Dict[str, Any]) -> None:
    parameters = list(api["authentication"]["parameters"])
    for action in api["actions"]:
        parameters += action["parameters"]
        assert action["description"].count(". ") == 0
    for param in parameters:
        text = param["description"].replace("e.g. ", "e.g ")
        assert text.endswith("."), param["name"]
        assert ". " not in text, (param["name"], text)
        assert "YAML" not in text and "JSON" not in text, param["name"]


# --- api.yaml -----------------------------------------------------------------------------------


def test_api_yaml_identity_comes_from_the_manifest(api: Dict[str, Any], plugin: Plugin) -> None:
    assert (api["name"], api["app_version"]) == (plugin.title, plugin.version)
    assert api["description"] == plugin.description
    assert api["contact_info"] == {"name": plugin.publisher, "url": plugin.homepage}
    assert api["categories"] == plugin.platforms["shuffle"]["categories"]
    assert [a["name"] for a in api["actions"]] == list(plugin.actions)
    icon = (ROOT / "icons/sentinelone-256.png").read_bytes()
    assert api["large_image"] == "data:image/png;base64," + base64.b64encode(icon).decode()


def test_authentication_is_the_asset_prefilled_and_masked(
    api: Dict[str, Any], plugin: Plugin
) -> None:
    auth = api["authentication"]
    assert auth["required"] is True  # else Shuffle does not pass the fields to the action
    fields = plugin.asset.schema["properties"]
    params = by_name(auth["parameters"])
    assert list(params) == list(fields)
    for name, param in params.items():
        assert "options" not in param  # Shuffle drops options on authentication parameters
        assert param["schema"] == {"type": "string"}
        assert param["required"] is (name in plugin.asset.schema["required"])
        assert param["description"].split(";")[0].rstrip(".") in fields[name]["description"]
        if not param["required"]:
            assert param["value"], f"{name}: the dialog refuses an empty field"
    assert "***" in params["api_token"]["example"] and "***" in params["http_proxy"]["example"]
    assert "***" not in params["url"]["example"]
    assert params["verify_ssl"]["value"] == "true"  # text, never a toggle that could store false
    assert "true or false" in params["verify_ssl"]["description"]
    not_set = plugin.platforms["shuffle"]["not_set"]
    assert params["ca_bundle"]["value"] == params["http_proxy"]["value"] == not_set == "none"
    assert f'"{not_set}"' in params["ca_bundle"]["description"]
    assert (params["timeout"]["value"], params["max_retries"]["value"]) == ("30", "3")
    assert "value" not in params["url"] and "value" not in params["api_token"]


def test_action_parameters_are_flat_strings_with_options(
    api: Dict[str, Any], plugin: Plugin
) -> None:
    (action,) = api["actions"]
    schema = plugin.actions["get_threat_events"].input_schema
    query = schema["properties"]["parameters"]["properties"]
    params = by_name(action["parameters"])
    assert list(params) == ["threat_id", *query, "follow_cursor", "max_events"]
    assert [n for n, p in params.items() if p["required"]] == ["threat_id"]
    assert params["threat_id"]["example"] == "1569749506546751259"
    assert params["eventTypes"]["example"] == "process,file"  # as our coercion accepts it
    assert params["limit"]["example"] == "100"
    # Shuffle's editor preselects options[0]: the default first, else "Not set" (value "").
    assert params["follow_cursor"]["options"] == ["false", "true"]
    assert params["sortOrder"]["options"] == ["Not set||", "asc", "desc"]
    assert params["countOnly"]["options"] == ["Not set||", "true", "false"]
    assert params["sortBy"]["options"][1:] == [v for v in query["sortBy"]["enum"] if v]
    assert "options" not in params["limit"] and "options" not in params["threat_id"]
    for param in action["parameters"] + api["authentication"]["parameters"]:
        for key in ("example", "value"):
            assert isinstance(param.get(key, ""), str), (param["name"], key)
        assert all(isinstance(o, str) for o in param.get("options", [])), param["name"]
        assert param["description"]


def test_the_method_signature_is_the_api_yaml_parameters(tree: Path, api: Dict[str, Any]) -> None:
    module = ast.parse((tree / APP / "src/app.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in module.body if isinstance(n, ast.ClassDef)]
    assert [ast.unparse(b) for b in cls.bases] == ["AppBase"]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    auth = [p["name"] for p in api["authentication"]["parameters"]]
    for action in api["actions"]:
        args = methods[action["name"]].args
        names = [a.arg for a in args.args]
        assert names == ["self", *auth, *(p["name"] for p in action["parameters"])]
        assert [ast.literal_eval(d) for d in args.defaults] == [""] * (len(names) - 1)
    assigned = {
        n.targets[0].id: ast.literal_eval(n.value) for n in cls.body if isinstance(n, ast.Assign)
    }
    assert assigned == {"__version__": api["app_version"], "app_name": api["name"]}


def with_input(root: Path, name: str) -> Path:
    """A copy of the plugin whose action has one more (valid) top-level input ``name``."""
    copy_plugin(root)
    path = root / "schemas/get_threat_events.input.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"][name] = {"title": name, "description": "x", "type": ["string", "null"]}
    path.write_text(json.dumps(schema), encoding="utf-8")
    return root


def test_a_name_clash_between_asset_and_inputs_exports_nothing(tmp_path: Path) -> None:
    root = with_input(tmp_path / "plugin", "url")
    out = tmp_path / "out"
    result = run_cli("export", "shuffle", "--root", str(root), "--output", str(out))
    assert result.code == 1
    assert "parameter 'url' occurs twice" in result.stderr
    assert not out.exists()


def test_a_reserved_parameter_name_exports_nothing(tmp_path: Path) -> None:
    root = with_input(tmp_path / "plugin", "shuffle_url")
    result = run_cli("export", "shuffle", "--root", str(root), "--output", str(tmp_path / "o"))
    assert result.code == 1
    assert "parameter 'shuffle_url' cannot be a keyword argument" in result.stderr


# --- the adapter the app runs (in-process, real HTTP to the simulator) --------------------------

EMPTY_EDITOR = {  # what the app receives for the untouched fields of a new node
    "verify_ssl": "true",
    "ca_bundle": "none",
    "http_proxy": "none",
    "timeout": "30",
    "max_retries": "3",
    "max_response_mb": "64",
    "eventId": "",
    "sortBy": "",
    "limit": "",
    "cursor": "",
    "eventTypes": "",
    "follow_cursor": "false",
    "max_events": "",
}


def shuffle_run(**values: Any) -> Dict[str, Any]:
    result = run(ROOT, "get_threat_events", values)
    assert isinstance(result, str)
    return json.loads(result)


def test_the_envelope_comes_back_as_json_text(sim: Any) -> None:
    text = run(
        ROOT, "get_threat_events", {"url": sim.url, "api_token": TOKEN, "threat_id": SEED_THREAT}
    )
    envelope = json.loads(text)
    assert text == json.dumps(envelope, ensure_ascii=False)
    assert envelope["status_code"] == 200
    assert envelope["json_body"]["data"] == simulator.SEED_EVENTS


def test_empty_and_not_set_values_are_not_sent(sim: Any) -> None:
    envelope = shuffle_run(url=sim.url, api_token=TOKEN, threat_id=SEED_THREAT, **EMPTY_EDITOR)
    assert envelope["status_code"] == 200
    (request,) = sim.requests()
    assert request["query"] == ""


def test_the_sentinel_means_not_set_in_any_case_and_only_where_prefilled(sim: Any) -> None:
    envelope = shuffle_run(
        url=sim.url, api_token=TOKEN, threat_id=SEED_THREAT, ca_bundle=" NONE ", http_proxy="None"
    )
    assert envelope["status_code"] == 200
    refused = shuffle_run(url="none", api_token=TOKEN, threat_id=SEED_THREAT)
    assert refused["success"] is False and refused["cause"] == "invalid_asset"
    assert "url" in refused["reason"] and '"none"' in refused["reason"]
    assert sim.requests()[1:] == []


def test_strings_are_typed_by_our_coercion(sim: Any) -> None:
    threat = synthetic_threat(2500)
    envelope = shuffle_run(
        url=sim.url,
        api_token=TOKEN,
        threat_id=threat,
        limit="5",
        eventTypes="process,file",
        sortOrder="desc",
        timeout="10",
    )
    assert envelope["status_code"] == 200 and len(envelope["json_body"]["data"]) == 5
    (request,) = sim.requests()
    assert request["params"] == {
        "limit": ["5"],
        "sortOrder": ["desc"],
        "eventTypes": ["process,file"],
    }


@pytest.mark.parametrize("threat_id", ["../1", "1569749506546751259/../../x", "1 OR 1=1", [1]])
def test_a_hostile_threat_id_is_refused_with_our_sentence(sim: Any, threat_id: Any) -> None:
    result = shuffle_run(url=sim.url, api_token=TOKEN, threat_id=threat_id)
    assert result == {
        "success": False,
        "reason": result["reason"],
        "cause": "invalid_input",
    }
    assert result["reason"].startswith("invalid inputs: parameter threat_id: got ")
    assert sim.requests() == []


def test_missing_values_are_named(sim: Any) -> None:
    result = shuffle_run(url=sim.url, api_token="", threat_id="")
    assert result["success"] is False
    assert "api_token: missing" in result["reason"]
    assert "parameter threat_id: missing" in result["reason"]
    assert sim.requests() == []


def test_a_wrong_token_is_a_normal_result_with_status_401(sim: Any) -> None:
    envelope = shuffle_run(url=sim.url, api_token="not-the-token-x9", threat_id=SEED_THREAT)
    assert envelope["status_code"] == 401 and "success" not in envelope
    assert envelope["json_body"]["errors"][0]["code"] == 4010010


def test_no_answer_is_a_failure_with_our_sentence_and_its_cause() -> None:
    result = shuffle_run(
        url="http://127.0.0.1:9", api_token=TOKEN, threat_id=SEED_THREAT, max_retries="0"
    )
    assert result["success"] is False and result["cause"] == "refused"
    assert "127.0.0.1:9" in result["reason"]


def test_a_walk_broken_midway_returns_the_events_so_far(sim: Any) -> None:
    sim.add_faults([{"kind": "pass", "count": 1}, {"kind": "reset"}])
    result = shuffle_run(
        url=sim.url,
        api_token=TOKEN,
        threat_id=synthetic_threat(2500),
        follow_cursor="true",
        max_retries="0",
    )
    assert result["success"] is False and result["cause"] == "reset"
    partial = result["envelope"]
    assert len(partial["json_body"]["data"]) == 1000
    assert partial["json_body"]["pagination"]["nextCursor"]


def test_a_lone_surrogate_in_the_body_gives_valid_utf8_json(sim: Any) -> None:
    # Valid JSON ("\udc80") with no UTF-8 form: the whole result then uses \u escapes.
    body = '{"data": [{"name": "a\\udc80b"}], "pagination": {"nextCursor": null}}'
    sim.add_faults([{"kind": "status", "status": 200, "body": body}])
    text = run(
        ROOT, "get_threat_events", {"url": sim.url, "api_token": TOKEN, "threat_id": SEED_THREAT}
    )
    text.encode("utf-8")  # would raise on a raw surrogate
    assert json.loads(text)["json_body"]["data"] == [{"name": "a\udc80b"}]


def test_the_platform_settings_are_checked(tmp_path: Path) -> None:
    root = copy_plugin(tmp_path / "plugin")
    edit_text(root / "plugin.yaml", "    not_set: none\n", '    not_set: ""\n')
    result = run_cli("export", "shuffle", "--root", str(root), "--output", str(tmp_path / "o"))
    assert result.code == 1
    assert "plugin.yaml: platforms.shuffle.not_set: " in result.stderr
