"""SentinelOne asset connectors: the configured HTTP session for a SentinelOne console."""
