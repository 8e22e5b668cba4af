"""What a batch shows while it runs: a progress bar on a terminal, lines elsewhere."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Reporter"]


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
            self._write(f"[{self.count}/{self.total}] {source} -> {destination} ({rate:.2f} img/s)")

    def failed(self, source, reason: str) -> None:
        """One task failed, for `reason`; always shown."""
        self.count += 1
        if self.bar is not None:
            self.bar.update()
        self._write(f"FAILED {source}: {reason}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
