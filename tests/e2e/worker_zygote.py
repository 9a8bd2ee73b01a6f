"""Starts real workers (`auterity worker`'s `run_worker`) in quick succession, for drills
that SIGKILL many of them: this process imports the worker's code once, then forks a
worker for each `spawn` line on stdin and prints its pid. A fork is up in a moment, where
a fresh `auterity worker` spends seconds importing its libraries.

No Temporal runtime exists in this process, so forking is safe; each child connects on
its own. End of input: the children get SIGTERM and this process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

import workers.activities  # noqa: F401  - imported here, once, for every child
from auterity.settings import load_settings
from workers.main import run_worker, workflow_classes

children: set[int] = set()


def reap(*_args: object) -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            children.discard(pid)


def spawn() -> int:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.stdin.close()
        os.dup2(2, 1)  # stdout carries pids to the drill: the worker talks to the log
        try:
            asyncio.run(run_worker(load_settings()))
        finally:
            os._exit(0)
    children.add(pid)
    return pid


def main() -> None:
    workflow_classes()  # the workflow modules too
    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        if line.strip() == "spawn":
            print(spawn(), flush=True)
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while children and time.monotonic() < deadline:
        reap()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
