"""When to retry and how long to wait: Retry-After (seconds or HTTP date), backoff with jitter."""

from __future__ import annotations

import email.utils
import math
import random
from datetime import datetime, timezone
from typing import FrozenSet, NamedTuple, Optional

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP = 30.0  # longest single wait: a longer Retry-After is waited for this long
RETRY_WAIT_BUDGET = 120.0  # most time one run may spend waiting between retries, all requests
BACKOFF_BASE = 0.5  # first backoff ceiling; doubles per retry (full jitter)
BACKOFF_CAP = 8.0


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class WaitBudget:
    """Seconds of retry waits a run may still spend: one per connector, shared by every
    request it sends (each page of a follow, each retry), so the waits of a whole run stay
    within ``RetryPolicy.wait_budget``."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def allows(self, delay: float) -> bool:
        return delay <= self.left

    def spend(self, delay: float) -> None:
        self.left -= delay


class RetryPolicy(NamedTuple):
    """Which answers are retried, how often, and how long to wait (an immutable value).

    urllib3's ``Retry`` does not fit: it cannot retry a reset after the headers arrived or a
    gzip stream cut short, keep a total wait budget, or add jitter on top of Retry-After."""

    max_retries: int = 3
    backoff_base: float = BACKOFF_BASE
    backoff_cap: float = BACKOFF_CAP
    retry_after_cap: float = RETRY_AFTER_CAP
    wait_budget: float = RETRY_WAIT_BUDGET
    statuses: FrozenSet[int] = RETRY_STATUSES

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    def delay_for(self, retry_after: Optional[str], attempt: int) -> float:
        """The wait before retrying a retryable status: Retry-After (capped, never earlier
        than asked up to the cap, a little jitter on top against stampedes), else backoff."""
        asked = retry_after_seconds(retry_after)
        if asked is None:
            return self.backoff(attempt)
        wait = min(asked, self.retry_after_cap)
        return wait + random.uniform(0, min(1.0, 0.1 + wait / 4))
