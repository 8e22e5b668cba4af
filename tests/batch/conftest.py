"""Fixtures of the batch tests: a tree of good and hostile files, and a tiny job that flips photos."""

import io

import numpy as np
import pytest
from PIL import Image

from bokehme.batch.runner import pending, run_batch
from bokehme.io.read import read_photo
from bokehme.io.write import write_photo


def _picture(path, seed, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


@pytest.fixture(scope="session")
def picture():
    """``picture(path, seed, fmt=None)``: save a small random photo there (folders made); its pixels."""
    return _picture


@pytest.fixture
def tree(tmp_path):
    """in/ with good photos in sub-folders, hostile files, a previous output and a loop."""
    root = tmp_path / "in"
    _picture(root / "a" / "x.jpg", 1)
    _picture(root / "b" / "x.jpg", 2)
    _picture(root / "a" / "deep" / "y.png", 3)
    _picture(root / "Z.JPEG", 4)
    _picture(root / "z_bokeh.jpg", 5)  # our own output from an earlier run
    (root / "bad").mkdir()
    (root / "bad" / "empty.jpg").write_bytes(b"")
    (root / "bad" / "text.jpg").write_text("hello\n")
    _picture(root / "bad" / "whole.jpg", 6)
    data = (root / "bad" / "whole.jpg").read_bytes()
    (root / "bad" / "whole.jpg").unlink()
    (root / "bad" / "cut.jpg").write_bytes(data[: len(data) // 2])
    (root / "notes.txt").write_text("not an image, not picked up\n")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    return root


class FlipJob:
    """The smallest job for run_batch: read a photo, turn it upside down, write it to the target."""

    def load(self, source):
        return read_photo(source)

    def compute(self, photo):
        return photo.pixels[::-1]

    def save(self, photo, result, target):
        write_photo(target.destination, result, source=photo)


@pytest.fixture
def flip_job():
    """A :class:`FlipJob`."""
    return FlipJob()


@pytest.fixture
def run(flip_job):
    """``run(tasks, overwrite=False, job=flip_job, **kwargs) -> Summary``: a batch as the command runs it.

    Tasks an earlier run finished are skipped (see ``pending``), unless
    `overwrite`; the log goes to a string unless given.
    """

    def run(tasks, overwrite=False, job=flip_job, **kwargs):
        kwargs.setdefault("log", io.StringIO())
        todo, done, _ = pending(tasks, overwrite)
        summary = run_batch(todo, job=job, **kwargs)
        summary.skipped = len(done)
        return summary

    return run
