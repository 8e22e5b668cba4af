"""Interruptions: Ctrl-C, SIGTERM and SIGHUP end a run alike, finishing the writes under way.

Python turns Ctrl-C (SIGINT) into KeyboardInterrupt, which the batch runner
handles; SIGTERM (``kill``, a service manager) and SIGHUP (a closed
terminal) would otherwise end the process at once.  Here they raise the same
KeyboardInterrupt, and the exit code says which signal it was (128 + its
number, as a shell reports it).
"""

import contextlib
import signal

__all__ = ["signals_as_interrupts", "interrupts_deferred", "exit_code"]

_received = [signal.SIGINT]


def _interrupt(signum, frame):
    _received[0] = signum
    raise KeyboardInterrupt


@contextlib.contextmanager
def signals_as_interrupts(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Within the block, `signals` raise KeyboardInterrupt as Ctrl-C does."""
    previous = {number: signal.signal(number, _interrupt) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def interrupts_deferred(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """Within the block, `signals` are only noted; leaving it raises KeyboardInterrupt if one came.

    For importing the libraries and loading the models.  A C extension's
    initialisation may run Python code of its own (Cython's modules patch
    ``collections.abc``, numpy's among them): an interrupt that comes then is
    printed as an ignored exception and lost, or leaves the interpreter
    marked as killed by Ctrl-C, whatever the program does after catching it.
    """
    noted = []
    previous = {number: signal.signal(number, lambda signum, frame: noted.append(signum)) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if noted:
        _received[0] = noted[0]
        raise KeyboardInterrupt


def exit_code() -> int:
    """The exit code of an interrupted run: 128 + the signal's number (130 for Ctrl-C)."""
    return 128 + int(_received[0])
