"""What a batch shows while it runs: a progress bar on a terminal, lines elsewhere."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TextIO

__all__ = ["Reporter", "printable"]


def printable(path) -> str:
    """A file name as it may be shown on a terminal or in a log: nothing in it can act as a control.

    Control characters (a newline would fake a line of the log) and bytes
    that are not valid in the file system's encoding are written as
    C-style escapes (``\\n``, ``\\x1b``), and a backslash as two, as ``ls -b``
    does; every other character is kept.
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(character) for character in text)


def _escaped(character: str) -> str:
    code = ord(character)
    if character == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # a byte the file system's encoding could not decode
        return f"\\x{code - 0xDC00:02x}"
    if character.isprintable():
        return character
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(character)
    return named or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class Reporter:
    """Progress bar on a terminal, plain lines elsewhere (logs, pipes, CI).

    Parameters
    ----------
    total : int
        Tasks to be done.
    stream : text stream
    progress : bool
        Report each task done (a bar on a terminal, else a line).
    quiet : bool
        Report failures only.
    """

    def __init__(self, total: int, stream: TextIO, *, progress: bool, quiet: bool):
        self.stream = stream
        self.total = total
        self.count = 0
        self.quiet = quiet
        self.started = time.monotonic()
        self.bar = None
        if progress and total and _is_terminal(stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=stream, dynamic_ncols=True, smoothing=0.1)
        self.lines = progress and self.bar is None

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def note(self, line: str) -> None:
        """A line of information, left out when quiet."""
        if not self.quiet:
            self._write(line)

    def done(self, source, destination) -> None:
        """One task done."""
        self.count += 1
        if self.bar is not None:
            self.bar.update()
        elif self.lines:
            rate = self.count / max(time.monotonic() - self.started, 1e-9)
            self._write(f"[{self.count}/{self.total}] {printable(source)} -> {printable(destination)} ({rate:.2f} img/s)")

    def failed(self, source, reason: str) -> None:
        """One task failed, for `reason`; always shown."""
        self.count += 1
        if self.bar is not None:
            self.bar.update()
        self._write(f"FAILED {printable(source)}: {printable(reason)}")

    def frames(self, source, total: int):
        """A ``progress(done, total)`` callback for the frames of one clip, and a function that ends it.

        On a terminal a second bar counts the clip's frames with their rate
        and the time left; elsewhere a line says how the clip went when it is done.
        """
        if self.bar is None:
            return (lambda done, total: None), (lambda: None)
        from tqdm import tqdm

        bar = tqdm(total=total or None, unit="frame", desc=printable(Path(source).name), file=self.stream,
                   dynamic_ncols=True, leave=False, position=1)

        def advance(done, total):
            if total and not bar.total:
                bar.total = total
            bar.update(done - bar.n)

        return advance, bar.close

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
