"""The kept threads: started once and kept from call to call, and a forked child gets its own."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from bokehme.imaging.threads import kept_threads


def test_work_runs_in_a_few_threads_that_outlive_it():
    workers = [kept_threads().submit(threading.current_thread).result() for _ in range(40)]
    kept = {id(worker): worker for worker in workers}.values()
    assert len(kept) < 10  # not a thread per call
    assert all(worker.is_alive() and worker is not threading.current_thread() for worker in kept)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_child_runs_work_in_threads_of_its_own():
    assert kept_threads().submit(np.add, 1, 2).result() == 3  # the parent's threads exist
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        done = False
        try:
            done = kept_threads().submit(np.add, 2, 3).result(timeout=10) == 5
        finally:
            os._exit(0 if done else 1)
    # A child that hangs is killed after a while, not waited for by CI.
    for _ in range(300):
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0
