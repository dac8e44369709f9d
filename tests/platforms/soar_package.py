"""``soarapps package build`` with at most N wheel downloads at a time (runs in the SDK's venv).

The SDK's packager starts every wheel download at once (asyncio.gather); on a small machine or a
slow link some hit its connect timeout and the build fails. This driver runs the SDK's own CLI
command, unchanged, and only holds each download back until fewer than N are running:

    python soar_package.py PROJECT OUTPUT.tgz [N]     (N: 4 unless given)
"""

import asyncio
import sys

from soar_sdk.cli.cli import app
from soar_sdk.meta.dependencies import DependencyWheel

LIMIT = int(sys.argv[3]) if len(sys.argv) > 3 else 4
_collect = DependencyWheel.collect_wheels
_gate = {}


async def _one_at_a_time_per_slot(self):
    loop = asyncio.get_running_loop()
    gate = _gate.setdefault(loop, asyncio.Semaphore(LIMIT))
    async with gate:
        async for item in _collect(self):
            yield item


DependencyWheel.collect_wheels = _one_at_a_time_per_slot

if __name__ == "__main__":
    project, output = sys.argv[1], sys.argv[2]
    app(["package", "build", project, "--output-file", output], prog_name="soarapps")
