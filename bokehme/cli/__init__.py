"""The command line: the ``bokehme`` command and the words of its messages.

:func:`main` imports the command only when called, so that Ctrl-C while
Python loads it ends without a traceback too.
"""

import sys

from .. import __version__
from ..process import prepare_this_process

__all__ = ["__version__", "main"]


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``.

    ``bokehme live ...`` runs the live camera (:mod:`bokehme.cli.live`);
    anything else is photos and clips (:mod:`bokehme.cli.command`).
    """
    # Before torch is imported: OpenMP reads its settings then.
    prepare_this_process()
    args = sys.argv[1:] if args is None else list(args)
    try:
        if args[:1] == ["live"]:
            from .live import main as run

            args, prog_name = args[1:], f"{prog_name} live"
        else:
            from .command import main as run
    except KeyboardInterrupt:
        sys.stderr.write("bokehme: interrupted\n")
        raise SystemExit(130) from None
    run(args, prog_name)
