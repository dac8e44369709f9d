"""The --asset and --inputs files, hostile or mistaken: one sentence and exit 2, never a hang, a
crash, an exhausted memory, a quoted secret or a different id sent."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import SEED_THREAT, TOKEN, run_cli, run_process, write_json

EVENTS = f"/web/api/v2.1/threats/{SEED_THREAT}/explore/events"


def run(asset: str, inputs: str, *extra: str, stdin: Any = None) -> Any:
    return run_cli("run", "get_threat_events", "--asset", asset, "--inputs", inputs, *extra,
                   stdin=stdin)  # fmt: skip


@pytest.fixture()
def asset_path(asset, tmp_path: Path) -> str:
    return write_json(tmp_path / "asset.json", asset)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_fifo_with_no_writer_does_not_hang(sim, asset_path, tmp_path) -> None:
    fifo = tmp_path / "inputs.fifo"
    os.mkfifo(fifo)
    args = ("run", "get_threat_events", "--asset", asset_path, "--inputs", str(fifo))
    result = run_process(*args, stdin="")  # its timeout fails the test on a hang
    assert result.code == 2
    assert f"--inputs: {fifo} is empty; expected a JSON or YAML document." in result.stderr
    assert sim.requests() == []


def test_a_fifo_with_a_writer_is_read(sim, asset_path, tmp_path) -> None:
    """Process substitution (--inputs <(...)) is a pipe: it keeps working."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # keeps the written bytes in the pipe
    writer = os.open(fifo, os.O_WRONLY)
    os.write(writer, json.dumps({"path_parameters": {"threat_id": SEED_THREAT}}).encode())
    os.close(writer)  # written and closed: the reader gets the bytes, then the end of file
    try:
        result = run(asset_path, str(fifo))
    finally:
        os.close(keeper)
    assert result.code == 0, result
    assert sim.requests()[0]["path"] == EVENTS


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused_before_reading(sim, asset_path, device) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} is not on this machine")
    result = run(asset_path, device)
    assert result.code == 2
    assert f"--inputs: {device} is not a regular file" in result.stderr
    assert sim.requests() == []


def test_a_directory_is_refused(sim, asset_path, tmp_path) -> None:
    result = run(asset_path, str(tmp_path))
    assert result.code == 2
    assert f"--inputs: {tmp_path} is a directory" in result.stderr


def test_a_large_inputs_file_is_refused_naming_the_limit(sim, asset_path, tmp_path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"path_parameters": {"threat_id": SEED_THREAT}, "x": "y" * 2**21}))
    result = run(asset_path, str(big))
    assert result.code == 2
    assert f"--inputs: {big} is larger than 1 MiB, the limit for an asset or inputs file." in (
        result.stderr
    )
    assert sim.requests() == []


def test_a_large_stdin_is_refused_after_reading_at_most_the_cap(sim, asset_path) -> None:
    result = run(asset_path, "-", stdin="#" * (3 * 2**20))
    assert result.code == 2
    assert "--inputs: - is larger than 1 MiB" in result.stderr


@pytest.mark.parametrize("option", ["--asset", "--inputs"])
def test_deep_yaml_is_refused_not_a_crash(sim, asset_path, tmp_path, option) -> None:
    deep = write(tmp_path / "deep.yaml", "[" * 50_000 + "]" * 50_000)
    blocks = write(tmp_path / "blocks.yaml", "- " * 50_000 + "x\n")
    for path in (deep, blocks):
        files = (
            (path, write_json(tmp_path / "in.json", {}))
            if option == "--asset"
            else (asset_path, path)
        )
        result = run(*files)
        assert result.code == 2, result  # was 139: the C loader's stack overflowed
        assert f"{option}: {path} nests deeper than 32 levels" in result.stderr
    assert sim.requests() == []


def test_deep_json_is_refused(sim, asset_path, tmp_path) -> None:
    for depth in (100_000, 500):
        path = write(tmp_path / f"deep{depth}.json", "[" * depth + "]" * depth)
        result = run(asset_path, path)
        assert result.code == 2, result  # was 1: RecursionError
        assert f"--inputs: {path} nests deeper than 32 levels" in result.stderr


def test_yaml_aliases_are_refused(sim, asset_path, tmp_path) -> None:
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name in "bcdefghi":
        previous = chr(ord(name) - 1)
        laughs.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    path = write(tmp_path / "laughs.yaml", "\n".join(laughs) + "\n")
    result = run(asset_path, path)
    assert result.code == 2
    assert f"--inputs: {path} uses a YAML alias at line 2" in result.stderr
    assert "aliases (*name) are not supported" in result.stderr


def test_yaml_with_tabs_says_so(sim, asset_path, tmp_path) -> None:
    path = write(tmp_path / "tabs.yaml", f"path_parameters:\n\tthreat_id: '{SEED_THREAT}'\n")
    result = run(asset_path, path)
    assert result.code == 2
    assert "tabs are not allowed in YAML indentation; indent with spaces." in result.stderr
    assert "at line 2" in result.stderr


@pytest.mark.parametrize(
    ("written", "sent"),
    [("0123", "0123"), (SEED_THREAT, SEED_THREAT), ("'0123'", "0123")],
)
def test_unquoted_yaml_ids_keep_their_digits(sim, asset_path, tmp_path, written, sent) -> None:
    path = write(tmp_path / "in.yaml", f"path_parameters:\n  threat_id: {written}\n")
    result = run(asset_path, path)
    assert result.code == 0, result  # 0123 was read as octal: threat 83 was asked for
    assert sim.requests()[0]["path"] == f"/web/api/v2.1/threats/{sent}/explore/events"


@pytest.mark.parametrize("written", ["0x1F", "0o17", "0b11", "1_000", "190:20:30"])
def test_unquoted_yaml_numbers_in_other_bases_are_never_sent(
    sim, asset_path, tmp_path, written
) -> None:
    path = write(tmp_path / "in.yaml", f"path_parameters:\n  threat_id: {written}\n")
    result = run(asset_path, path)
    assert result.code == 2, result  # 0x1F was read as 31: threat 31 was asked for
    assert f'path_parameters.threat_id: got "{written}"; expected a decimal digit' in (
        result.stderr
    )
    assert sim.requests() == []


def test_yaml_integer_parameters_in_other_bases_are_refused(sim, asset_path, tmp_path) -> None:
    text = f"path_parameters:\n  threat_id: '{SEED_THREAT}'\nparameters:\n  limit: 0x10\n"
    result = run(asset_path, write(tmp_path / "in.yaml", text))
    assert result.code == 2
    assert 'parameters.limit: got "0x10"; expected an integer from 1 to 1000.' in result.stderr


def test_mixed_type_keys_exit_2(sim, asset_path, tmp_path) -> None:
    text = f"path_parameters:\n  threat_id: '{SEED_THREAT}'\n1: a\nzzz: b\n"
    result = run(asset_path, write(tmp_path / "in.yaml", text))
    assert result.code == 2, result  # was 1: sorting int and str keys
    assert "invalid inputs: 1 (integer): unknown input;" in result.stderr
    assert "invalid inputs: zzz: unknown input;" in result.stderr


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"S1_API_TOKEN={TOKEN}\n", "a string"),
        (json.dumps(["https://x.example", TOKEN]), "a list"),
        (TOKEN + "\n", "a string"),
    ],
)
@pytest.mark.parametrize("command", ["run", "test-asset"])
def test_an_asset_file_that_is_not_a_mapping_is_described(tmp_path, text, kind, command) -> None:
    asset = write(tmp_path / "asset.yaml", text)
    inputs = write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    if command == "run":
        result = run(asset, inputs)
    else:
        result = run_cli("test-asset", "--asset", asset)
    assert result.code == 2, result  # run_cli asserts the token is on neither stream
    assert f"the asset must be a mapping of field names to values; got {kind}." in result.stderr


def test_the_untouched_asset_template_is_not_sent_to_dns(sim, tmp_path) -> None:
    from tests.support import ROOT

    template = str(ROOT / "examples" / "asset.example.yaml")
    inputs = write_json(tmp_path / "in.json", {"path_parameters": {"threat_id": SEED_THREAT}})
    result = run(template, inputs)
    assert result.code == 2
    assert "fill in url and api_token." in result.stderr


def test_templated_values_with_spaces_and_null_cursors_run(sim, asset_path, tmp_path) -> None:
    inputs = {
        "path_parameters": {"threat_id": f" {SEED_THREAT} "},
        "parameters": {"cursor": "None", "limit": " 5 "},
    }
    result = run(asset_path, write_json(tmp_path / "in.json", inputs))
    assert result.code == 0, result
    assert sim.requests()[0]["path"] == EVENTS
    assert sim.requests()[0]["params"] == {"limit": ["5"]}


def test_warnings_reach_stderr(sim, asset_path, tmp_path) -> None:
    inputs = {"path_parameters": {"threat_id": SEED_THREAT}, "max_events": 10}
    result = run(asset_path, write_json(tmp_path / "in.json", inputs))
    assert result.code == 0, result
    # A warning reads like every other line (issue 21, friction): "<what>: <sentence>".
    assert result.stderr == "warning: max_events is ignored unless follow_cursor is true.\n"


def test_a_key_given_twice_is_refused_naming_it_and_both_lines(sim, asset, tmp_path) -> None:
    # The last one would win: a second url would send the token to that host.
    inputs = write(
        tmp_path / "inputs.json", json.dumps({"path_parameters": {"threat_id": SEED_THREAT}})
    )
    yaml_asset = f"url: {asset['url']}\napi_token: {TOKEN}\nurl: https://evil.example\n"
    json_asset = (
        f'{{"url": "{asset["url"]}",\n "api_token": "{TOKEN}",\n "url": "https://evil.example"}}'
    )
    for name, text in [("asset.yaml", yaml_asset), ("asset.json", json_asset)]:
        result = run(write(tmp_path / name, text), inputs)
        assert result.code == 2, result.stderr
        assert result.stderr == (
            f"invalid asset: --asset: {tmp_path / name}: the key 'url' is given twice, at lines "
            "1 and 3; keep one.\n"
        )
    nested = "path_parameters:\n  threat_id: '1'\nparameters:\n  limit: 5\n  limit: 6\n"
    result = run(write(tmp_path / "a.json", json.dumps(asset)), write(tmp_path / "i.yaml", nested))
    assert result.code == 2 and "the key 'limit' is given twice, at lines 4 and 5" in result.stderr
    flat = '{"path_parameters": {"threat_id": "1", "threat_id": "2"}}'
    result = run(write(tmp_path / "a.json", json.dumps(asset)), write(tmp_path / "i.json", flat))
    assert result.code == 2 and "the key 'threat_id' is given twice, on line 1" in result.stderr
    assert sim.requests() == []
