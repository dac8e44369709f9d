"""Retries: urllib3's ``Retry``, with the run's wait budget, a progress hook and full jitter."""

from __future__ import annotations

import contextlib
import random
import time
from typing import Any, Optional

from urllib3.exceptions import HTTPError, InvalidHeader, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from framework import exchange

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP = 30.0  # longest single wait: a longer Retry-After is waited for this long
RETRY_WAIT_BUDGET = 120.0  # most time one run may spend waiting between retries, all requests


class RunRetry(Retry):
    """urllib3's Retry for one run's requests (GET only; 429/502/503/504 and lost connections).

    Retry keeps no state across requests, so it cannot hold a wait budget for a whole run: each
    wait is checked against ``run.wait_left`` (the connector's) and announced to ``run.on_wait``."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES  # not urllib3's 413 with a Retry-After too
    run: Any = None
    delay = 0.0  # the wait before the attempt this Retry allows
    # Ours, not urllib3's retry_after_max: the platforms' urllib3 may predate it (Shuffle: 2.3.0).
    retry_after_cap = RETRY_AFTER_CAP

    @classmethod
    def for_run(cls, run: Any, max_retries: int, **tuning: Any) -> RunRetry:
        cap = tuning.pop("retry_after_max", RETRY_AFTER_CAP)
        retry = cls(
            total=max_retries,
            connect=0,  # refused, DNS: asking again does not help
            other=0,  # TLS and proxy failures: neither
            redirect=False,  # a 3xx is returned, never followed: the token stays on its host
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            raise_on_status=False,  # retries run out: the last response is returned as it is
            **{"backoff_factor": 0.5, "backoff_max": 8.0, **tuning},
        )
        retry.run, retry.retry_after_cap = run, cap
        return retry

    def new(self, **kw: Any) -> RunRetry:
        retry = super().new(**kw)
        retry.run, retry.retry_after_cap = self.run, self.retry_after_cap
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.retry_after_cap)

    def get_backoff_time(self) -> float:
        # urllib3 retries the first time at once and adds jitter only from the second: runs
        # sharing one token would retry in step. Full jitter under a doubling ceiling instead.
        ceiling = self.backoff_factor * 2 ** max(len(self.history) - 1, 0)
        return random.uniform(0, min(self.backoff_max, ceiling))

    def increment(
        self,
        method: Optional[str] = None,
        url: Optional[str] = None,
        response: Any = None,
        error: Optional[Exception] = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RunRetry:
        under_way = exchange.current()
        if isinstance(error, ReadTimeoutError) or (under_way is not None and under_way.expired):
            raise MaxRetryError(_pool, url, error)  # a timeout is not retried
        # Raises MaxRetryError when retries run out (for a status: urllib3 returns the response).
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        try:
            asked = retry.get_retry_after(response) if response is not None else None
        except InvalidHeader:  # neither seconds nor an HTTP date
            asked = None
        retry.delay = asked if asked else retry.get_backoff_time()
        if retry.delay > self.run.wait_left:
            raise MaxRetryError(_pool, url, error)  # the run's budget is spent
        if response is not None:  # urllib3 drains the answer retried in one unbounded read()
            with contextlib.suppress(HTTPError, OSError):
                while response.read(64 * 1024, decode_content=False):
                    pass
        return retry

    def sleep(self, response: Any = None) -> None:
        self.run.wait_left -= self.delay
        if self.run.on_wait is not None:
            self.run.on_wait(self.delay, response.status if response is not None else None)
        time.sleep(self.delay)
        under_way = exchange.current()
        if under_way is not None:
            under_way.restart()  # the next attempt gets a whole timeout of its own
