"""framework.retry: the retry policy value and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from framework.retry import RetryPolicy, retry_after_seconds


def test_defaults_retry_the_documented_statuses() -> None:
    policy = RetryPolicy()
    assert policy.max_retries == 3
    assert set(policy.statuses) == {429, 502, 503, 504}


def test_the_policy_is_an_immutable_value() -> None:
    policy = RetryPolicy(max_retries=5)
    assert policy == RetryPolicy(max_retries=5)
    with pytest.raises(AttributeError):
        policy.max_retries = 1  # type: ignore[misc]
    assert policy._replace(max_retries=1).max_retries == 1


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_full_jitter_under_a_doubling_ceiling(attempt: int) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=8.0)
    ceiling = min(8.0, 0.5 * 2**attempt)
    random.seed(attempt)
    waits = [policy.backoff(attempt) for _ in range(200)]
    assert all(0 <= wait <= ceiling for wait in waits)
    assert max(waits) > ceiling / 2  # jitter spreads over the range, not a constant


def test_retry_after_is_honoured_never_earlier_with_bounded_jitter() -> None:
    policy = RetryPolicy(retry_after_cap=30.0)
    for _ in range(100):
        wait = policy.delay_for("4", attempt=0)
        assert 4 <= wait <= 4 + min(1.0, 0.1 + 4 / 4)


def test_a_long_retry_after_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=30.0)
    assert 30 <= policy.delay_for("86400", attempt=0) <= 31


def test_without_retry_after_the_backoff_applies() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_cap=0.01)
    assert 0 <= policy.delay_for(None, attempt=3) <= 0.01
    assert 0 <= policy.delay_for("soon", attempt=3) <= 0.01


def test_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30)
    assert retry_after_seconds(format_datetime(now, usegmt=True), now=now.timestamp() + 5) == 0
    for bad in (None, "", "-1", "nan", "inf", "tomorrow"):
        assert retry_after_seconds(bad) is None
