"""Asset connectors: configured HTTP sessions for the services the plugin talks to."""

from connectors.base import (
    AssetError,
    ConnectionLost,
    ConnectorError,
    HttpConnector,
    TransportError,
)

__all__ = ["AssetError", "ConnectionLost", "ConnectorError", "HttpConnector", "TransportError"]
