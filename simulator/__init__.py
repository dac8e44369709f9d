"""A local stand-in for SentinelOne's "Get Threat Events" API, for demos and tests.

Standard library only and independent of the plugin's code: a fake that shared the client's code
would share its bugs.  ``python -m simulator`` runs it from the command line; in Python::

    with simulator.start() as sim:  # http://127.0.0.1:<free port>, token DEFAULT_TOKEN
        requests.get(f"{sim.url}/web/api/v2.1/threats/{SEED_THREAT_ID}/explore/events",
                     headers={"Authorization": f"ApiToken {sim.token}"})

Threats: ``SEED_THREAT_ID`` serves the two captured seed events verbatim;
``synthetic_threat_id(n)`` (``1700000000000`` + six digits) serves n deterministic events; any
other decimal id has none (``200``, empty ``data``).  ``GET /web/api/v2.1/threats`` lists the seed
threat and ``GET /web/api/v2.1/system/info`` answers any valid token: ``DEFAULT_VIEWER_TOKEN``
authenticates but gets ``403`` on threats (both the list and the events).

Control endpoints (loopback clients, no auth), mirrored by methods of ``SimulatorServer``:

* ``POST /_sim/faults`` ``{"faults": [FAULT, ...]}`` queues faults (``add_faults``); each request
  under ``/web/api/`` consumes one.  ``GET`` lists them, ``DELETE`` clears them (``clear_faults``).
  Kinds: ``status`` (any status/headers/body), ``delay``, ``drop``, ``reset``, ``reset_mid_body``,
  ``trickle``, ``truncated_gzip``, ``huge``, and ``pass`` (answer normally: with a count, it lets
  requests through before the next fault); each may carry ``"count": N``.  See ``faults.py``.
* ``GET /_sim/requests`` lists the API requests received (``requests()``): method, raw path,
  raw query, parsed params, headers with Authorization redacted, auth (``ok``, ``viewer``,
  ``missing``, ``wrong``), rqid and ignored_params.  ``DELETE`` clears it (``clear_requests``).
* ``POST /_sim/reset`` clears faults, the request log and rate-limit buckets (``reset``).

See ``data.py`` for the events, ``api.py`` for parameters and cursors and ``server.py`` for the
HTTP behaviour (headers, gzip, keep-alive, rate limiting, TLS).
"""

from .data import EVENT_KEYS, EVENT_SUBTYPES, EVENT_TYPES, MAX_SYNTHETIC_EVENTS, SYNTHETIC_PREFIX
from .faults import FaultError
from .seed import SEED_EVENTS, SEED_THREAT_ID
from .server import DEFAULT_TOKEN, DEFAULT_VIEWER_TOKEN, SimulatorServer, start


def synthetic_threat_id(count: int) -> str:
    """The id of the synthetic threat with ``count`` events (0..999999, served capped)."""
    if not 0 <= count <= 999_999:
        raise ValueError("count must be between 0 and 999999")
    return f"{SYNTHETIC_PREFIX}{count:06d}"


__all__ = [
    "DEFAULT_TOKEN",
    "DEFAULT_VIEWER_TOKEN",
    "EVENT_KEYS",
    "EVENT_SUBTYPES",
    "EVENT_TYPES",
    "MAX_SYNTHETIC_EVENTS",
    "SEED_EVENTS",
    "SEED_THREAT_ID",
    "FaultError",
    "SimulatorServer",
    "start",
    "synthetic_threat_id",
]
