"""Property-based: hostile inputs and asset values give a clear input error (nothing sent) or a
request whose path and query are exactly what the action declares. Never anything else."""

from __future__ import annotations

import re
from typing import Any, Dict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.errors import AssetError, InputError, TransportError
from framework.manifest import load_plugin
from framework.runner import run_action
from tests.support import SECRETS, TOKEN

PLUGIN = load_plugin()
ACTION = PLUGIN.actions["get_threat_events"]
DECLARED = set(ACTION.input_schema["properties"]["parameters"]["properties"])
EXACT_PATH = re.compile(r"/web/api/v2\.1/threats/[0-9]+/explore/events")
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "../1",
            "1/../../2",
            "%2F",
            "1%2F..",
            "1?limit=5",
            "1#frag",
            "1\r\nX-Injected: yes",
            "1\x00",
            "١٢٣",
            " 1",
            "1 ",
            "",
            "process,file",
            "true",
            "99999999999999999999999999999999999",
        ]
    ),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
parameter_names = st.one_of(st.sampled_from(sorted(DECLARED)), st.text(max_size=12))
hostile_inputs = st.fixed_dictionaries(
    {"path_parameters": st.fixed_dictionaries({"threat_id": st.one_of(nasty_text, json_value)})},
    optional={"parameters": st.dictionaries(parameter_names, json_value, max_size=5)},
)


def _check_sent(sim: Any, envelope: Dict[str, Any]) -> None:
    seen = sim.requests()
    assert len(seen) == 1
    request = seen[0]
    assert EXACT_PATH.fullmatch(request["path"]), request["path"]
    assert set(request["params"]) <= DECLARED, request["params"]
    assert "X-Injected" not in request["headers"]
    assert isinstance(envelope["status_code"], int)


@SETTINGS
@given(inputs=hostile_inputs)
def test_hostile_inputs_are_refused_or_sent_exactly(sim_server, inputs) -> None:
    sim_server.clear_requests()
    asset = {"url": sim_server.url, "api_token": TOKEN}
    try:
        envelope = run_action(PLUGIN, "get_threat_events", asset, inputs)
    except InputError as exc:
        assert exc.problems and all(p.endswith(".") for p in exc.problems)
        assert sim_server.requests() == []
        return
    _check_sent(sim_server, envelope)


@SETTINGS
@given(
    threat_id=st.from_regex(r"[0-9]{1,19}", fullmatch=True),
    limit=st.one_of(st.integers(1, 1000), st.integers(1, 1000).map(str)),
    event_types=st.lists(st.sampled_from(["process", "file", "dns", "ip"]), max_size=3),
    name=st.text(min_size=1, max_size=20),
)
def test_valid_inputs_always_reach_the_server_exactly(
    sim_server, threat_id, limit, event_types, name
) -> None:
    sim_server.clear_requests()
    inputs = {
        "path_parameters": {"threat_id": threat_id},
        "parameters": {"limit": limit, "eventTypes": event_types, "processName__like": name},
    }
    envelope = run_action(
        PLUGIN, "get_threat_events", {"url": sim_server.url, "api_token": TOKEN}, inputs
    )
    _check_sent(sim_server, envelope)
    params = sim_server.requests()[0]["params"]
    assert params["limit"] == [str(int(limit))]
    if name.strip():  # templated text is trimmed; blank means not set
        assert params["processName__like"] == [name.strip()]
    else:
        assert "processName__like" not in params
    if event_types:
        assert params["eventTypes"] == [",".join(event_types)]


url_suffix = st.one_of(
    st.sampled_from(["", "/", "/web/api/v2.1", "/web/api/v2.1/", "?x=1", "#f", "/../x", "/%2F"]),
    st.text(alphabet="/?#%@:.aZ09 \r\n", max_size=12),
)


@SETTINGS
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp", "", "javascript"]),
    userinfo=st.sampled_from(["", "user:secret-pw-Qx81@", "@", ":@"]),
    suffix=url_suffix,
    token=st.one_of(st.just(TOKEN), nasty_text.map(lambda t: "tok-Hk29" + t), json_value),
    retries=json_value,
)
def test_hostile_assets_fail_clearly_and_never_leak(
    sim_server, scheme, userinfo, suffix, token, retries
) -> None:
    sim_server.clear_requests()
    host = sim_server.url.split("://", 1)[1]
    asset = {
        "url": f"{scheme}://{userinfo}{host}{suffix}",
        "api_token": token,
        "max_retries": retries,
    }
    inputs = {"path_parameters": {"threat_id": "1"}}
    try:
        envelope = run_action(PLUGIN, "get_threat_events", asset, inputs)
    except (InputError, AssetError, TransportError) as exc:
        text = str(exc) + repr(exc)
        assert "secret-pw-Qx81" not in text
        assert not any(secret in text for secret in SECRETS)
        assert "tok-Hk29" not in text
        if not isinstance(exc, TransportError):
            assert sim_server.requests() == []
        return
    _check_sent(sim_server, envelope)
