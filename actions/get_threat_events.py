"""Get Threat Events: GET /web/api/v2.1/threats/{threat_id}/explore/events, envelope unchanged."""

from __future__ import annotations

import re
from typing import Any, Mapping

from actions.base import Action, ActionInputError, encode_query

THREAT_ID = re.compile(r"[0-9]{1,32}")


class GetThreatEvents(Action):
    """Retrieve the events of one SentinelOne threat (one page, as the API returns it)."""

    def run(self, inputs: Mapping[str, Any]) -> dict:
        threat_id = inputs["path_parameters"]["threat_id"]
        if not isinstance(threat_id, str) or not THREAT_ID.fullmatch(threat_id):
            raise ActionInputError(
                f"path_parameters.threat_id: got {threat_id!r}; expected a decimal digit string "
                "such as '1569749506546751259'."
            )
        path = self.build_path({"threat_id": threat_id})
        query = encode_query(inputs.get("parameters") or {})
        return self.connector.request(self.method, path, params=query)
