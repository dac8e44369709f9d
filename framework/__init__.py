"""The generic plugin core that every platform package ships.

Connector base (session, retries, body, envelope, errors), action base, manifest model, input
coercion and validation, and the runner. It reaches product code only through the
``module:Class`` strings of plugin.yaml.
"""
