"""Get Threat Events: GET /web/api/v2.1/threats/{threat_id}/explore/events, envelope unchanged."""

from __future__ import annotations

import sys
from typing import Any, Mapping

from actions.paging import follow_cursor
from framework.action import Action, encode_query

MAX_PAGE = 1000  # the API's largest limit: the page size when following without a limit
DEFAULT_MAX_EVENTS = 10_000  # with follow_cursor; as in the input schema's default


class GetThreatEvents(Action):
    """Retrieve the events of one SentinelOne threat: one page, or every page (follow_cursor).
    The inputs arrive validated against the input schema."""

    def run(self, inputs: Mapping[str, Any]) -> dict:
        path = self.build_path(inputs["path_parameters"])
        parameters = inputs.get("parameters") or {}
        if not inputs.get("follow_cursor"):
            return self.connector.request(self.method, path, params=encode_query(parameters))
        max_events = inputs.get("max_events")
        if max_events is None:  # streamed to a file, not kept: only the user's own limit
            unlimited = self.pages is not None and self.pages.unlimited
            max_events = sys.maxsize if unlimited else DEFAULT_MAX_EVENTS
        page_size = parameters.get("limit") or MAX_PAGE
        return follow_cursor(self, path, parameters, max_items=max_events, page_size=page_size)
