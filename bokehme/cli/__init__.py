"""The command line: the ``bokehme`` command and the words of its messages."""

from .. import __version__
from .command import command, main

__all__ = ["__version__", "command", "main"]
