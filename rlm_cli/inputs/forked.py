"""Work spread over forked copies of this process, for staging that is bound by one CPU."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from rlm_cli.errors import RlmError

MAX_PROCESSES = 4
T = TypeVar("T")


def process_count() -> int:
    """How many processes staging may use: the CPUs this process may run on, at most 4.

    1 where fork is missing or unsafe: a process running other threads (a test runner, an
    event loop's helpers) could fork a child that waits forever on a lock one of them held.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, MAX_PROCESSES))


def in_processes(jobs: Sequence[int], processes: int, work: Callable[[int], T]) -> dict[int, T]:
    """work(k) for every job k, by this process and processes - 1 forked children.

    Job i goes to process i mod processes. A child sends its results back pickled once all
    its jobs are done; an error in any process is raised here, after every child has ended.
    """
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    gc.freeze()  # a child's collections then leave the parent's objects (and their pages) alone
    try:
        for worker in range(1, processes):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                _child(write_end, jobs[worker::processes], work)
            os.close(write_end)
            children.append((pid, read_end))
        results = {k: work(k) for k in jobs[0::processes]}
        while children:
            pid, read_end = children[0]
            with os.fdopen(read_end, "rb") as pipe:
                data = pipe.read()
            children.pop(0)
            _, status = os.waitpid(pid, 0)
            outcome = pickle.loads(data) if data else None
            if isinstance(outcome, BaseException):
                raise outcome
            if status != 0 or not isinstance(outcome, dict):
                raise RlmError(f"a staging process ended with status {status} and no result")
            results.update(outcome)
        return results
    finally:
        for pid, read_end in children:  # an error or Ctrl-C: stop the others, leave no zombie
            with contextlib.suppress(OSError):  # closed already if reading it was interrupted
                os.close(read_end)
            with contextlib.suppress(ProcessLookupError):  # it had ended already
                os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


def _child(pipe: int, jobs: Sequence[int], work: Callable[[int], T]) -> NoReturn:
    """A forked child: do its jobs, send back the results (or the error), and exit at once."""
    status = 0
    try:
        outcome: object = {k: work(k) for k in jobs}
    except BaseException as e:  # handed to the parent, which raises it
        outcome, status = e, 1
    try:
        data = pickle.dumps(outcome)
    except Exception as e:  # an error that cannot be pickled: its message is enough
        data, status = pickle.dumps(RlmError(f"staging failed: {outcome}: {e}")), 1
    try:
        with os.fdopen(pipe, "wb") as out:
            out.write(data)
    finally:
        os._exit(status)  # no atexit handlers, no flush of the parent's buffered output
