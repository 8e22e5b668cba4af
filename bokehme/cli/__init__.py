"""The command line: the ``bokehme`` command and the words of its messages.

:func:`main` imports the command only when called, so that Ctrl-C while
Python loads it ends without a traceback too.  (Python itself may then end
the process killed by SIGINT rather than with exit code 130, as it does
once a KeyboardInterrupt escaped code it ran from a string, such as
``collections.namedtuple``'s during an import; a shell reports both as 130.)
"""

import sys

from .. import __version__

__all__ = ["__version__", "main"]


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``.

    ``bokehme live ...`` runs the live camera (:mod:`bokehme.cli.live`);
    anything else is photos and clips (:mod:`bokehme.cli.command`).
    """
    args = sys.argv[1:] if args is None else list(args)
    try:
        from ..process import prepare_this_process

        # Before torch is imported: OpenMP reads its settings then.
        prepare_this_process()
        if args[:1] == ["live"]:
            from .live import main as run

            args, prog_name = args[1:], f"{prog_name} live"
        else:
            from .command import main as run
    except KeyboardInterrupt:
        sys.stderr.write("bokehme: interrupted\n")
        raise SystemExit(130) from None
    run(args, prog_name)
