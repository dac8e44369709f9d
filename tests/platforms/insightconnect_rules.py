"""Driver, run in the InsightConnect tools venv: every validator rule, one by one, offline.

``python insightconnect_rules.py PLUGIN_DIR`` prints one JSON line per rule of
``icon_validator.rules`` (VALIDATORS and JENKINS_VALIDATORS): ``{"rule", "status", "detail"}``
with status pass, fail or skip. A rule that calls a web API or Docker is not run
(``NETWORK``: skipped, with the reason); the parts of it that are offline are run instead and
reported in ``detail`` (a failing part makes the rule fail). Each rule gets a fresh spec object
(the spec caches what it reads). Never ``icon_validator.validate.validate()``: it runs them all.
"""

import contextlib
import io
import json
import sys

from icon_plugin_spec.plugin_spec import KomandPluginSpec
from icon_validator.exceptions import ValidationException
from icon_validator.rules import JENKINS_VALIDATORS, VALIDATORS

NETWORK = {
    "VersionValidator": "asks the Rapid7 Extensions API (extensions-api.rapid7.com) for the "
    "published versions",
    "UnapprovedKeywordsValidator": "downloads the approved keywords from the Rapid7 Extensions API",
    "RuntimeValidator": "asks Docker Hub (hub.docker.com) for the latest base-image tags",
    "URLValidator": "sends HTTP HEAD requests to every URL in plugin.spec.yaml and help.md",
    "DockerValidator": "runs docker build --pull and docker run (a Docker daemon and registry)",
}


def offline_parts(name, rule, spec):
    """The offline checks of a network rule, as (label, callable) pairs."""
    if name == "VersionValidator":
        return [
            ("validate_plugin_version", lambda: rule.validate_plugin_version(spec)),
            ("validate_version", lambda: rule.validate_version(spec.spec_dictionary()["version"])),
            ("validate_version_quotes", lambda: rule.validate_version_quotes(spec.raw_spec())),
        ]
    if name == "UnapprovedKeywordsValidator":
        return [("validate_keywords_exists", lambda: rule.validate_keywords_exists(spec))]
    if name == "RuntimeValidator":
        return [
            ("validate_setup", lambda: rule.validate_setup(spec)),
            ("validate_imports", lambda: rule.validate_imports(spec)),
            ("validate_caching", lambda: rule.validate_caching(spec)),
        ]
    return []


def run(name, call):
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            call()
    except ValidationException as exc:
        return "fail", str(exc)
    except Exception as exc:  # a rule that breaks is a failure too, reported by name
        return "fail", f"{type(exc).__name__}: {exc}"
    return "pass", printed.getvalue().strip()


def main(directory):
    seen = set()
    for rule in [*VALIDATORS, *JENKINS_VALIDATORS]:
        name = type(rule).__name__
        if name in seen:
            continue
        seen.add(name)
        spec = KomandPluginSpec(directory, "plugin.spec.yaml")
        if name in NETWORK:
            parts = [(label, run(label, call)) for label, call in offline_parts(name, rule, spec)]
            failed = [f"{label}: {detail}" for label, (status, detail) in parts if status == "fail"]
            passed = [label for label, (status, _) in parts if status == "pass"]
            status, detail = ("fail", "; ".join(failed)) if failed else ("skip", NETWORK[name])
            if passed and not failed:
                detail += f" (offline parts passed: {', '.join(passed)})"
        else:
            status, detail = run(name, lambda rule=rule, spec=spec: rule.validate(spec))
        print(json.dumps({"rule": name, "status": status, "detail": detail}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
