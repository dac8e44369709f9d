"""Shared fixtures: one simulator for the session, assets pointing at it, secret hygiene."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest
import trustme
from hypothesis import settings

import simulator
from framework.manifest import Plugin, load_plugin
from framework.runner import prepare_asset
from tests.support import SECRETS, TOKEN, ForwardProxy

# tests/platforms/ runs the SOAR vendors' own runtimes in their own venvs (make platforms,
# which sets PLATFORMS_TESTS=1): make test neither collects it nor needs those runtimes.
collect_ignore = [] if os.environ.get("PLATFORMS_TESTS") else ["platforms"]

# Property tests search anew on every local run; in CI (CI set) they replay one fixed,
# derandomized sequence, so a run there cannot fail by chance or replay a stale database.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def plugin() -> Plugin:
    return load_plugin()


@pytest.fixture(scope="session")
def sim_server() -> Iterator[Any]:
    server = simulator.start(token=TOKEN)
    yield server
    server.shutdown()


@pytest.fixture()
def sim(sim_server: Any) -> Any:
    """The shared simulator with no faults queued and an empty request log."""
    sim_server.clear_faults()
    sim_server.clear_requests()
    return sim_server


@pytest.fixture()
def asset(sim: Any) -> Dict[str, Any]:
    return {"url": sim.url, "api_token": TOKEN}


@pytest.fixture()
def make_connector(plugin: Plugin) -> Callable[..., Any]:
    """Build the real connector from an asset as the runtime does; fast backoff for tests."""
    made = []

    def build(asset: Dict[str, Any], **tuning: Any) -> Any:
        tuning.setdefault("backoff_factor", 0.01)
        connector = plugin.asset.connector_class(
            prepare_asset(plugin, asset), user_agent=plugin.user_agent, **tuning
        )
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


@pytest.fixture(scope="session")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Any, str]]:
    """A simulator serving https with a certificate from a CA made now; yields (server, CA path)."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    server = simulator.start(token=TOKEN, tls_cert=str(cert_path), tls_key=str(key_path))
    assert server.url.startswith("https://")
    yield server, str(ca_path)
    server.shutdown()


@pytest.fixture()
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.close()


@pytest.fixture()
def auth_proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy(require_auth=True)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_secret_leaks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture) -> Iterator:
    """Every test, at DEBUG level: no secret in any log record or captured output."""
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capfd.readouterr()
    text = out + err + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        assert secret not in text, "a secret reached the logs or the output"
