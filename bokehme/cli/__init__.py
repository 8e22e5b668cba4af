"""The command line: the ``bokehme`` command and the words of its messages.

:func:`main` imports the command only when called, so that Ctrl-C while
Python loads it ends without a traceback too.
"""

import sys

from .. import __version__

__all__ = ["__version__", "main"]


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``."""
    try:
        from .command import main as run
    except KeyboardInterrupt:
        sys.stderr.write("bokehme: interrupted\n")
        raise SystemExit(130) from None
    run(args, prog_name)
