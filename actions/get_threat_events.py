"""Get Threat Events: GET /web/api/v2.1/threats/{threat_id}/explore/events, envelope unchanged."""

from __future__ import annotations

import re
import sys
from typing import Any, Mapping

from actions.paging import follow_cursor
from framework.action import Action, ActionInputError, encode_query

THREAT_ID = re.compile(r"[0-9]{1,32}")
MAX_PAGE = 1000  # the API's largest limit: the page size when following without a limit
DEFAULT_MAX_EVENTS = 10_000  # with follow_cursor; as in the input schema's default
MAX_EVENTS_CAP = 100_000  # the input schema's maximum, enforced here too


class GetThreatEvents(Action):
    """Retrieve the events of one SentinelOne threat: one page, or every page (follow_cursor)."""

    def run(self, inputs: Mapping[str, Any]) -> dict:
        threat_id = inputs["path_parameters"]["threat_id"]
        if not isinstance(threat_id, str) or not THREAT_ID.fullmatch(threat_id):
            raise ActionInputError(
                f"path_parameters.threat_id: got {threat_id!r}; expected a decimal digit string "
                "such as '1569749506546751259'."
            )
        path = self.build_path({"threat_id": threat_id})
        parameters = inputs.get("parameters") or {}
        if not inputs.get("follow_cursor"):
            return self.connector.request(self.method, path, params=encode_query(parameters))
        max_events = inputs.get("max_events")
        page_size = parameters.get("limit") or MAX_PAGE
        if max_events is None and self.pages is not None and self.pages.unlimited:
            # Streamed to a file, not kept: no default limit, only the user's own.
            return follow_cursor(self, path, parameters, max_items=sys.maxsize, page_size=page_size)
        max_events = max_events or DEFAULT_MAX_EVENTS
        if type(max_events) is not int or not 1 <= max_events <= MAX_EVENTS_CAP:
            raise ActionInputError(
                f"max_events: got {max_events!r}; expected an integer from 1 to {MAX_EVENTS_CAP}."
            )
        return follow_cursor(self, path, parameters, max_items=max_events, page_size=page_size)
