#!/usr/bin/env python3
"""The Cortex analyzer program (``analyzers/<Name>/<id>_analyzer.py``, the plugin core beside
it): one cortexutils job in, one answer out: ``report()`` for a 2xx answer, else ``error()``.
Every secret value is scrubbed from anything written.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Tuple
from urllib.parse import unquote, urlsplit

from cortexutils.analyzer import Analyzer

HERE = Path(__file__).resolve().parent  # the plugin root: plugin.yaml is beside this file
PLATFORM = "cortex"
REMOVED = "REMOVED"  # what cortexutils writes in place of a masked config value
DEFAULT_PHRASES = ("key", "password", "secret")  # cortexutils' own default
CORTEX_PROXY = ("https", "http")  # http_proxy's fallback: these keys of config.proxy, in order
# RunError.kind -> the sentence that follows ours in errorMessage.
OUTCOMES = {
    "inputs": "Nothing was sent: check the observable and the job parameters.",
    "asset": "Nothing was sent: check the analyzer's configuration in Cortex.",
    "transport": "No usable answer arrived.",
    "interrupted": "The job was stopped before it ended.",
}


def proxy_secrets(value: str) -> List[str]:
    """The password of a proxy URL, as written and decoded."""
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def strings_under(value: Any) -> List[str]:
    if isinstance(value, str):
        return [value, value.strip()]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in strings_under(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_under(item)]
    return []


class Scrubber:
    """Every secret value of a job, and how to take them out of anything written."""

    def __init__(self, job: Any, phrases: Tuple[str, ...]) -> None:
        self.phrases = phrases
        found: List[str] = []
        for group in ("config", "parameters"):
            values = job.get(group) if isinstance(job, Mapping) else None
            if isinstance(values, Mapping):
                for name, value in values.items():
                    if self.secret_name(name):
                        found += [x for s in strings_under(value) for x in [s, *proxy_secrets(s)]]
        self.values = sorted({s for s in found if s}, key=len, reverse=True)

    def secret_name(self, name: Any) -> bool:
        return isinstance(name, str) and any(p in name.lower() for p in self.phrases)

    def text(self, value: str) -> str:
        for secret in self.values:
            value = value.replace(secret, REMOVED)
        return value

    def clean(self, value: Any, masked: bool = False) -> Any:
        """``value`` without secret values (``masked``: nor values of secret-named keys)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                key: REMOVED
                if masked and self.secret_name(key) and item is not None
                else self.clean(item, masked)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.clean(item, masked) for item in value]
        return value


def http_failure(title: str, envelope: Mapping[str, Any]) -> str:
    """``<title> answered HTTP 401 Unauthorized: Authentication Failed.`` and the envelope."""
    body = envelope.get("json_body")
    errors = body.get("errors") if isinstance(body, Mapping) else None
    details = [
        str(e.get("detail") or e.get("title"))
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, Mapping) and (e.get("detail") or e.get("title"))
    ]
    status = f"HTTP {envelope.get('status_code')} {envelope.get('reason') or ''}".strip()
    detail = f": {'; '.join(details)}" if details else ""
    return f"{title} answered {status}{detail}.\nEnvelope: {json.dumps(dict(envelope))}"


def full_report(envelope: Dict[str, Any], count_by: str) -> Dict[str, Any]:
    """The report: the envelope unchanged, and the counts the templates show."""
    body = envelope.get("json_body")
    data = body.get("data") if isinstance(body, Mapping) else None
    events = data if isinstance(data, list) else []
    values = [event.get(count_by) if isinstance(event, Mapping) else None for event in events]
    counts = Counter("(none)" if value is None else str(value) for value in values)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "envelope": envelope,
        "events": len(events),
        "event_types": [{"type": kind, "count": count} for kind, count in ranked],
    }


class PluginAnalyzer(Analyzer):
    """The plugin's actions as one Cortex analyzer (one flavour per action)."""

    def __init__(self, plugin: Any, problem: Optional[str] = None) -> None:
        self.plugin = plugin
        self.settings: Dict[str, Any] = dict(
            (plugin.platforms.get(PLATFORM) if plugin else None) or {}
        )
        secrets = list(plugin.asset.secrets) if plugin else []
        phrases = [*self.settings.get("secret_phrases", DEFAULT_PHRASES), *secrets]
        self.phrases = tuple(sorted({str(p).lower() for p in phrases if str(p).strip()}))
        super().__init__(secret_phrases=self.phrases)  # reads the job; may end it with error()
        if problem:
            self.error(problem)

    def scrubber(self) -> Scrubber:
        return Scrubber(getattr(self, "_input", {}), getattr(self, "phrases", DEFAULT_PHRASES))

    def error(self, message: str, ensure_ascii: bool = True) -> NoReturn:
        """cortexutils' error (job echoed, exit 1), every secret value out of it."""
        scrubber = self.scrubber()
        if isinstance(self._input, Mapping):
            self._input = scrubber.clean(self._input, masked=True)
        super().error(scrubber.text(str(message)), ensure_ascii=True)
        raise SystemExit(1)  # not reached: cortexutils exits

    def report(self, full_report: Dict[str, Any], ensure_ascii: bool = True) -> None:
        super().report(self.scrubber().clean(full_report), ensure_ascii=True)

    def summary(self, raw: Dict[str, Any]) -> Dict[str, Any]:
        namespace = self.settings.get("namespace") or "".join(
            word[:1].upper() + word[1:] for word in self.plugin.title.split()
        )
        predicate = self.settings.get("predicate", "Events")
        count = raw.get("events", 0)
        return {"taxonomies": [self.build_taxonomy("info", namespace, predicate, count)]}

    def action_id(self) -> str:
        named = self.get_param("config.action")
        if named is None and len(self.plugin.actions) == 1:
            return next(iter(self.plugin.actions))
        if named not in self.plugin.actions:
            known = ", ".join(sorted(self.plugin.actions))
            self.error(
                f"config.action: {json.dumps(named)} is not an action of this analyzer ({known})."
            )
        return str(named)

    def asset(self) -> Dict[str, Any]:
        config = self.get_param("config", {}) or {}
        fields = self.plugin.asset.schema.get("properties", {})
        asset = {name: config[name] for name in fields if config.get(name) is not None}
        proxy = config.get("proxy")
        if "http_proxy" in fields and "http_proxy" not in asset and isinstance(proxy, Mapping):
            for scheme in CORTEX_PROXY:
                if proxy.get(scheme):
                    asset["http_proxy"] = proxy[scheme]
                    break
        return asset

    def inputs(self, action_id: str) -> Dict[str, Any]:
        """The observable, then the job parameters by name: an input or a field of one."""
        schema = self.plugin.actions[action_id].input_schema.get("properties", {})
        groups = {
            leaf: key for key, sub in schema.items() for leaf in sub.get("properties", {}) or {}
        }
        inputs: Dict[str, Any] = {}
        *group, leaf = str(self.settings.get("observable", "")).split(".")
        data = self.get_param("data")
        if len(group) == 1 and data is not None:
            inputs[group[0]] = {leaf: data}
        elif not group and leaf and data is not None:
            inputs[leaf] = data
        parameters = self.get_param("parameters", {}) or {}
        if not isinstance(parameters, Mapping):
            self.error("parameters: the job's parameters must be an object.")
        for name, value in parameters.items():
            if value is None:
                continue
            if name in schema:
                if isinstance(value, Mapping) and isinstance(inputs.get(name), dict):
                    inputs[name].update(value)
                else:
                    inputs[name] = value
            elif name in groups:
                group = inputs.setdefault(groups[name], {})
                if isinstance(group, dict):
                    group[name] = value
            else:
                inputs[name] = value
        return inputs

    def run(self) -> None:
        from framework.errors import RunError
        from framework.runner import run_action

        if self.data_type not in self.settings.get("dataTypeList", ["other"]):
            self.notSupported()
        action_id = self.action_id()
        try:
            envelope = run_action(self.plugin, action_id, self.asset(), self.inputs(action_id))
        except RunError as exc:
            message = f"{exc}\n{OUTCOMES.get(exc.kind, '')}".rstrip()
            if exc.envelope is not None:
                message += f"\nEnvelope (the events read so far): {json.dumps(exc.envelope)}"
            self.error(message)
        except Exception as exc:  # no traceback, and no value, reaches Cortex
            self.error(f"internal error in the plugin ({type(exc).__name__}).")
        status = envelope.get("status_code")
        if isinstance(status, int) and 200 <= status < 300:
            self.report(full_report(envelope, str(self.settings.get("count_by", "eventType"))))
        else:
            self.error(http_failure(self.plugin.title, envelope))


def main() -> None:
    from framework.manifest import ManifestError, load_plugin

    try:
        plugin, problem = load_plugin(HERE), None
    except ManifestError as exc:
        plugin, problem = None, "invalid plugin: " + " ".join(exc.problems)
    PluginAnalyzer(plugin, problem).run()


if __name__ == "__main__":
    main()
