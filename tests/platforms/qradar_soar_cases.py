"""Run by test_qradar_soar.py with pytest-resilient-circuits in the QRadar SOAR venv (its own
pytest, not ours): one call of the installed app's function through resilient-circuits, the
SOAR message bus played by the plugin's BasicResilientMock.

Environment: QR_FUNCTION (the function's API name), QR_APP_CONFIG (the app.config section),
QR_INPUTS (the function inputs, JSON), QR_RESULT (where to write what happened, JSON:
{"payload": <results payload>} or {"error": <the exception's message>}).
"""

import json
import os

from resilient_circuits import FunctionResult, SubmitTestFunction

FUNCTION = os.environ["QR_FUNCTION"]
config_data = os.environ["QR_APP_CONFIG"]  # read by the circuits_app fixture
resilient_mock = "pytest_resilient_circuits.BasicResilientMock"


def call(circuits, inputs, timeout=60):
    event = SubmitTestFunction(FUNCTION, inputs)
    circuits.manager.fire(event)
    failed = circuits.watcher.wait("exception", parent=None, timeout=timeout)
    if failed is not False:
        return {"error": str(failed.args[1])}
    done = circuits.watcher.wait(f"{FUNCTION}_result", parent=event, timeout=timeout)
    assert done, "no result"
    result = done.kwargs["result"]
    assert isinstance(result, FunctionResult)
    return {"payload": result.value}


def test_call(circuits_app):
    outcome = call(circuits_app, json.loads(os.environ["QR_INPUTS"]))
    with open(os.environ["QR_RESULT"], "w", encoding="utf-8") as out:
        json.dump(outcome, out)
