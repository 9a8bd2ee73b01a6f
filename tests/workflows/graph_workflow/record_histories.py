"""Record the replay histories: `python -m tests.workflows.graph_workflow.record_histories [scenario ...]`."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from auterity.graph.naming import SEARCH_ATTRIBUTES
from tests.workflows.graph_workflow.scenarios import SCENARIOS, record

HISTORIES = Path(__file__).parent / "histories"


async def main(names: list[str]) -> None:
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        HISTORIES.mkdir(exist_ok=True)
        for name in names or list(SCENARIOS):
            histories = await record(env.client, f"record-{uuid.uuid4()}", name)
            for stem, saved in histories.items():
                (HISTORIES / f"{stem}.json").write_text(json.dumps(saved, indent=1) + "\n")
                print(f"recorded {stem}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
