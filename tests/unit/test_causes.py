"""The cause table: one message and one hint per transport failure, one sentence each."""

from __future__ import annotations

import json

import pytest

from framework.errors import CAUSES, Cause, ConnectionLost, TransportError, describe

FACTS = {
    "host": "[::1]:8443",
    "hostname": "console.example",
    "proxy": "proxy.example:3128",
    "timeout": "2.5",
    "limit_mb": "64",
    "example": " (e.g. https://console.example)",
}


def test_every_cause_has_one_message_and_one_hint() -> None:
    assert set(CAUSES) == set(Cause)
    for message, hint in CAUSES.values():
        assert message and hint and message[0] != " " and not hint.endswith(".")


@pytest.mark.parametrize("cause", list(Cause))
def test_each_sentence_names_the_host_and_says_what_to_do(cause: Cause) -> None:
    sentence = describe(cause, **FACTS)
    assert sentence.endswith(".") and sentence.count("; ") == 1 and "\n" not in sentence
    assert "{" not in sentence and "}" not in sentence  # every placeholder filled
    named = FACTS["hostname"] if cause is Cause.DNS else FACTS["host"]
    if cause is Cause.PROXY_AUTH:
        named = FACTS["proxy"]
    assert named in sentence
    assert sentence.split("; ", 1)[1][:1].islower()  # the hint continues the sentence


def test_missing_facts_never_break_a_sentence() -> None:
    for cause in Cause:
        assert describe(cause).endswith(".")


def test_details_and_product_example_are_filled_in() -> None:
    assert "(e.g. https://console.example)" in describe(Cause.DNS, **FACTS)
    refused = describe(Cause.CONNECT, **FACTS, detail=" (network is unreachable)")
    assert refused.startswith("Could not connect to [::1]:8443 (network is unreachable);")
    assert "timeout of 2.5 s" in describe(Cause.TIMEOUT, **FACTS)
    assert "max_response_mb (64 MB)" in describe(Cause.TOO_LARGE, **FACTS)


def test_errors_carry_their_cause_and_its_sentence() -> None:
    error = TransportError.of(Cause.REFUSED, **FACTS)
    assert error.cause is Cause.REFUSED and str(error) == describe(Cause.REFUSED, **FACTS)
    lost = ConnectionLost.of(Cause.CUT_SHORT, **FACTS)
    assert isinstance(lost, TransportError) and lost.cause is Cause.CUT_SHORT
    assert json.dumps({"cause": Cause.TLS_UNTRUSTED.value}) == '{"cause": "tls"}'
