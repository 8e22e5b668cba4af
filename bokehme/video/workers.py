"""Frame workers: the matte and rendering of frames in threads, or in processes of their own.

A frame's matte and rendering are numpy, OpenCV and torch calls, which work
outside Python's lock, joined by Python that holds it; two frame workers as
threads of one process (:class:`FrameThreads`) wait on each other for the
lock.  As processes (:class:`FrameWorkers`), each has an interpreter, and a
lock, of its own, for a little more CPU a frame.  A frame, its probability and
its background go to a worker, and its rendering and alpha come back,
through shared memory; the pipe to each worker carries only which slot of
that memory to read and the options.

The processes start from a fork server that has imported the libraries
the imaging code uses once (:mod:`~bokehme.video.worker_processes`), never by forking the
main process itself, whose torch, OpenMP and MediaPipe threads a fork would
leave behind half-copied.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import shared_memory

import cv2
import numpy as np
import torch

from ..imaging.matte import refine_alpha
from ..pipeline import render
from .worker_processes import (TERMINAL_SIGNALS, SharedMemoryShort, WorkerLost, context, start_server,
                               terminal_signals_ignored)

__all__ = ["FRAME_EDGE_PIXELS", "FrameThreads", "FrameWorkers", "cpu_seconds", "matte_and_render"]

#: Working size of a frame's soft-edge colour estimate (photos take 5e5): a
#: frame has a few dozen milliseconds, and its coarser estimate costs fine
#: strands a little of their colour (README, "Video files").
FRAME_EDGE_PIXELS = 3e4

# Shared memory is laid out in whole cache lines.
_ALIGN = 64


def matte_and_render(pixels, probability, background, options):
    """Matte and render one frame whose steadied probability is known.

    Parameters
    ----------
    pixels : (H, W, 3) uint8 ndarray
        The frame, sRGB.
    probability : (h, w) float32 ndarray
        Its steadied subject probability.
    background : (H, W, 3) float32 ndarray or None
        Replaces the background instead of blurring it.
    options : Options

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
    alpha : (H, W) float32 ndarray
    seconds : tuple of float
        The matte's and the rendering's.
    """
    start = time.perf_counter()
    # The 8-bit frame goes in as it is: the imaging reads it as v / 255
    # where it needs floats, and hands back 8 bits.
    alpha = refine_alpha(pixels, probability)
    matted = time.perf_counter()
    image = render(pixels, options, mask=alpha, background=background, probability=probability,
                   edge_pixels=FRAME_EDGE_PIXELS).image
    return image, alpha, (matted - start, time.perf_counter() - matted)


# CPU seconds of the workers stopped so far.
_spent = [0.0]


def cpu_seconds():
    """CPU time spent by this process's frame workers that have stopped (each until its last frame).

    Their processes are not this one's children (they come from the fork
    server), so the operating system's accounting of this process and its
    children leaves them out: benchmarks add this.
    """
    return _spent[0]


def _layout(given, alpha):
    """Where each array of a frame lies in its slot: name -> (offset, shape, dtype), and the bytes in all.

    `given` maps ``"pixels"``, ``"probability"`` and maybe ``"background"``
    to their ``(shape, dtype)``, kept as they are (a background of the wrong
    size is the rendering's error to raise, as in one process); the
    rendering comes back as a frame's, uint8, and with `alpha` the alpha,
    float32.
    """
    height, width = given["pixels"][0][:2]
    arrays = [(name, tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in given.items()]
    arrays.append(("image", (height, width, 3), np.dtype(np.uint8)))
    if alpha:
        arrays.append(("alpha", (height, width), np.dtype(np.float32)))
    layout, offset = {}, 0
    for name, shape, dtype in arrays:
        layout[name] = (offset, shape, dtype)
        offset += -(-int(np.prod(shape)) * dtype.itemsize // _ALIGN) * _ALIGN
    return layout, offset


def _check_room(needed):
    """Raise SharedMemoryShort unless POSIX shared memory (Linux's /dev/shm) has `needed` bytes free.

    Its pages are only taken when first written, and a write that finds the
    file system full ends the process with SIGBUS: no error to catch.
    """
    if needed and os.path.isdir("/dev/shm"):
        free = shutil.disk_usage("/dev/shm").free
        if free < needed:
            raise SharedMemoryShort(needed, free)


def _views(buffer, layout):
    return {name: np.ndarray(shape, dtype, buffer, offset) for name, (offset, shape, dtype) in layout.items()}


def _serve(connection, threads):
    """A worker's life: render what the pipe names until it says stop or the main process is gone."""
    # The main process decides what stops, and tells the workers.
    for number in TERMINAL_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    attached = {}
    try:
        while True:
            try:
                task = connection.recv()
            except EOFError:
                return
            if task is None:
                return
            name, live, given, options, alphas = task
            views = None
            try:
                for gone in [other for other in attached if other not in live]:  # a slot grown anew
                    attached.pop(gone).close()
                if name not in attached:
                    attached[name] = shared_memory.SharedMemory(name)
                views = _views(attached[name].buf, _layout(given, alphas)[0])
                image, alpha, seconds = matte_and_render(views["pixels"], views["probability"],
                                                         views.get("background"), options)
                views["image"][...] = image
                if alphas:
                    views["alpha"][...] = alpha
                reply = ("done", seconds + (time.process_time(),))
            except Exception as error:  # raised again in the main process, as itself
                reply = ("failed", _portable(error))
            # The views borrow the memory, which cannot be closed while they live.
            del views
            connection.send(reply)
    finally:
        for memory in attached.values():
            memory.close()


def _portable(error):
    """A copy of `error` that crosses to the main process (and holds none of this one's frames)."""
    try:
        return pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


class FrameWorkers:
    """Worker processes that matte and render frames, in the order handed to them.

    Frame ``i`` goes to worker ``i % count``, so each worker's frames come
    back in order; ``count + 1`` slots of shared memory hold the frames
    being rendered and one handed over ahead.

    Parameters
    ----------
    count : int
        Worker processes.
    options : Options
        What every frame is rendered with.
    alphas : bool
        Whether results carry the frame's alpha; without it, less memory
        is shared and copied (a live picture needs only the rendering).

    Notes
    -----
    A context manager: leaving it stops the workers (after the frames they
    hold) and frees the shared memory, whatever the reason.  As in any
    program that starts processes this way, a script that renders through
    it runs its work under ``if __name__ == "__main__":`` (each worker
    imports the script).
    """

    def __init__(self, count, options, alphas=True):
        start_server()
        chosen = context()
        self.options, self.alphas = options, alphas
        # The cores torch would use here, shared: the workers render at once
        # (OpenCV takes as many: more would only spin against the other worker).
        threads = max(1, torch.get_num_threads() // count)
        self._workers, self._slots, self._cpu = [], [None] * (count + 1), {}
        self._handed = self._collected = 0
        try:
            for _ in range(count):
                ours, theirs = chosen.Pipe()
                process = chosen.Process(target=_serve, args=(theirs, threads), name="bokehme-frame", daemon=True)
                with terminal_signals_ignored():
                    process.start()
                theirs.close()
                self._workers.append((process, ours))
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, pixels, probability, background=None):
        """Hand a frame to its worker; returns the ticket :meth:`result` takes, in the order handed.

        At most ``count + 1`` frames may be out at once (one per slot).

        Raises
        ------
        SharedMemoryShort
            If the frames do not fit in what shared memory has free.
        """
        index = self._handed
        if index - self._collected >= len(self._slots):
            raise RuntimeError(f"{len(self._slots)} frames are out already: take a result first")
        arrays = {"pixels": pixels, "probability": probability}
        if background is not None:
            arrays["background"] = background
        given = {name: (array.shape, array.dtype.str) for name, array in arrays.items()}
        layout, size = _layout(given, self.alphas)
        slot = index % len(self._slots)
        memory = self._slots[slot]
        if memory is None or memory.size < size:
            if memory is not None:
                memory.close()
                memory.unlink()
                self._slots[slot] = None
            needed = size * sum(kept is None or kept.size < size for kept in self._slots)
            _check_room(needed)
            try:
                memory = self._slots[slot] = shared_memory.SharedMemory(create=True, size=size)
            except OSError as error:  # no /dev/shm, or not ours to write
                raise SharedMemoryShort(needed, 0) from error
        views = _views(memory.buf, layout)
        for name, array in arrays.items():
            views[name][...] = array
        del views
        live = [kept.name for kept in self._slots if kept is not None]
        worker = self._workers[index % len(self._workers)]
        try:
            worker[1].send((memory.name, live, given, self.options, self.alphas))
        except OSError:
            raise self._lost(worker[0]) from None
        self._handed += 1
        return index, worker, memory, layout

    def result(self, ticket):
        """The frame's ``(image, alpha, (matte seconds, render seconds))``, copied out of shared memory.

        The alpha is None for workers started without `alphas`.

        Raises
        ------
        Exception
            What rendering the frame raised in its worker.
        WorkerLost
            If the worker ended without answering.
        """
        index, (process, connection), memory, layout = ticket
        if index != self._collected:
            raise RuntimeError(f"frame {index}'s result taken before frame {self._collected}'s")
        self._collected += 1
        try:
            status, payload = connection.recv()
        except (EOFError, OSError):
            raise self._lost(process) from None
        if status == "failed":
            raise payload
        self._cpu[id(connection)] = payload[2]
        views = _views(memory.buf, layout)
        image, alpha = views["image"].copy(), views["alpha"].copy() if self.alphas else None
        del views
        return image, alpha, payload[:2]

    @staticmethod
    def _lost(process):
        process.join(1)
        return WorkerLost(process.exitcode)

    @property
    def pids(self):
        """The worker processes' ids."""
        return [process.pid for process, _ in self._workers]

    def close(self):
        """Stop the workers once they have rendered what they hold, and free the shared memory."""
        for process, connection in self._workers:
            try:
                connection.send(None)
            except OSError:  # already gone
                pass
        try:
            for process, connection in self._workers:
                process.join(10)
                if process.is_alive():
                    process.kill()
                    process.join()
                connection.close()
        finally:
            # A second Ctrl-C in the joins still frees the memory: a worker
            # still reading its slot keeps it mapped until it ends.
            self._workers = []
            _spent[0] += sum(self._cpu.values())
            self._cpu = {}
            for memory in self._slots:
                if memory is not None:
                    memory.close()
                    memory.unlink()
            self._slots = [None] * len(self._slots)


class FrameThreads:
    """Threads of this process that matte and render frames: :class:`FrameWorkers`' interface, one Python lock.

    Parameters
    ----------
    count : int
    options : Options
    alphas : bool
    """

    def __init__(self, count, options, alphas=True):
        self.options, self.alphas = options, alphas
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="bokehme-render")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, pixels, probability, background=None):
        """Hand a frame to the threads; returns the ticket :meth:`result` takes."""
        return self._pool.submit(matte_and_render, pixels, probability, background, self.options)

    def result(self, ticket):
        """The frame's ``(image, alpha, (matte seconds, render seconds))``; what rendering it raised."""
        image, alpha, seconds = ticket.result()
        return image, alpha if self.alphas else None, seconds

    def close(self):
        """Wait for the frames being rendered; drop those not started."""
        self._pool.shutdown(cancel_futures=True)
