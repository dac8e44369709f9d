"""RunRetry: urllib3's Retry as the connector configures it, and its full-jitter backoff.

The run's wait budget across requests is tested end to end (test_hostile_server.py:
test_the_retry_budget_covers_every_page_of_a_run; test_connector.py, test_reliability.py)."""

from __future__ import annotations

import random

import pytest
from urllib3.util.retry import RequestHistory

from framework.connector import RunRetry


def test_only_get_and_the_documented_statuses_are_retried_never_a_redirect() -> None:
    retry = RunRetry.for_run(None, 3)
    assert retry.total == 3 and set(retry.status_forcelist) == {429, 502, 503, 504}
    assert retry.is_retry("GET", 503) and not retry.is_retry("POST", 503)
    assert not retry.is_retry("GET", 500) and not retry.is_retry("GET", 413, has_retry_after=True)
    assert (retry.connect, retry.other, retry.redirect) == (0, 0, 0)  # refused, TLS: not retried
    assert not retry.raise_on_status  # retries run out: the last response is returned


def test_a_long_retry_after_is_capped() -> None:
    assert RunRetry.for_run(None, 3).parse_retry_after("86400") == 30
    assert RunRetry.for_run(None, 3, retry_after_max=0.3).parse_retry_after("86400") == 0.3


@pytest.mark.parametrize("retries", range(1, 9))
def test_backoff_is_full_jitter_under_a_doubling_ceiling(retries: int) -> None:
    history = (RequestHistory("GET", "/", None, 503, None),) * retries
    retry = RunRetry.for_run(None, 10).new(history=history)
    ceiling = min(8.0, 0.5 * 2 ** (retries - 1))  # 0.5 s before the first retry, up to 8 s
    random.seed(retries)
    waits = [retry.get_backoff_time() for _ in range(200)]
    assert all(0 <= wait <= ceiling for wait in waits)
    assert max(waits) > ceiling / 2  # jitter spreads over the range, not a constant
