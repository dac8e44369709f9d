"""The action base: a connector, the manifest's method and path, and safe request building."""

import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from framework.connector import HttpConnector
from framework.errors import InputError

PATH_VALUE = re.compile(r"[A-Za-z0-9_-]{1,128}")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Called after each page while following cursors: (items fetched, totalItems or None, pages).
# A hook with a ``waiting(seconds, status)`` method also hears of each retry wait.
ProgressHook = Callable[[int, Optional[int], int], None]


class PageSink(Protocol):
    """Takes each page while following cursors, ``sink(page_envelope, items)``, instead of the
    action keeping the items; ``unlimited``: no default item limit applies (only the user's)."""

    unlimited: bool

    def __call__(self, envelope: Dict[str, Any], items: List[Any]) -> None: ...


def encode_query(parameters: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """Query pairs: arrays comma-joined, booleans true/false; null and empty arrays left out."""
    query = []
    for name, value in parameters.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        query.append((name, text))
    return query


class Action:
    """Base class: subclasses implement ``run(inputs) -> envelope``."""

    def __init__(
        self,
        connector: HttpConnector,
        *,
        method: str,
        path: str,
        progress: Optional[ProgressHook] = None,
        pages: Optional[PageSink] = None,
    ) -> None:
        self.connector = connector
        self.method = method
        self.path = path
        self.progress = progress
        self.pages = pages
        waiting = getattr(progress, "waiting", None)
        if waiting is not None:
            connector.on_wait = waiting

    def build_path(self, values: Mapping[str, Any]) -> str:
        """The path template with each placeholder replaced by a value that cannot escape it."""

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            value = values.get(name)
            if not isinstance(value, str) or not PATH_VALUE.fullmatch(value):
                expected = "letters, digits, - or _ only"
                raise InputError(
                    "inputs", [f"path_parameters.{name}: got {value!r}; expected {expected}."]
                )
            return value

        return PLACEHOLDER.sub(substitute, self.path)
