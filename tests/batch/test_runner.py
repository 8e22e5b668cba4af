"""Tests for bokehme.batch.runner on a tree of good and hostile files made in tmp_path."""

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bokehme.batch.plan import plan_tasks
from bokehme.batch.runner import Summary, format_summary, pending, remove_stale_temporaries, run_batch
from bokehme.io.read import read_photo


def digests(folder):
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def temp_files(folder):
    return [path for path in folder.rglob("*") if "bokehme-tmp" in path.name]


GOOD = ["Z.JPEG", "a/deep/y.png", "a/x.jpg", "b/x.jpg"]
BAD = ["bad/cut.jpg", "bad/empty.jpg", "bad/text.jpg"]


def test_batch_over_a_hostile_tree(tree, tmp_path, run):
    out = tmp_path / "out"
    before = digests(tree)
    plan = plan_tasks([str(tree)], output_dir=out, recursive=True)
    tasks, problems = plan.tasks, plan.failed
    assert problems == []
    assert sorted(str(t.source.relative_to(tree)) for t in tasks) == sorted(GOOD + BAD)

    summary = run(tasks)

    assert summary.processed == len(GOOD) and not summary.interrupted
    assert sorted(str(path.relative_to(tree)) for path, _ in summary.failed) == BAD
    assert all("\n" not in reason for _, reason in summary.failed)
    written = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    assert written == sorted(GOOD)  # mirrored: a/x.jpg and b/x.jpg both kept
    for name in GOOD:
        assert read_photo(out / name).pixels.shape == read_photo(tree / name).pixels.shape
    np.testing.assert_array_equal(
        read_photo(out / "a/deep/y.png").pixels, read_photo(tree / "a/deep/y.png").pixels[::-1]
    )
    assert digests(tree) == before  # inputs untouched
    assert temp_files(tmp_path) == []

    again = run(tasks)
    assert (again.processed, again.skipped) == (0, len(GOOD))
    assert len(again.failed) == len(BAD)

    redo = run(tasks, overwrite=True)
    assert (redo.processed, redo.skipped) == (len(GOOD), 0)
    assert digests(tree) == before


def test_pending_needs_every_output_of_a_task(tree, tmp_path, run):
    out = tmp_path / "out"
    plain = plan_tasks([str(tree / "a" / "x.jpg")], output_dir=out, recursive=False).tasks
    with_mask = plan_tasks([str(tree / "a" / "x.jpg")], output_dir=out, recursive=False, side_outputs=["mask"]).tasks
    assert with_mask[0].outputs() == [out / "x.jpg", out / "x_mask.png"]
    assert pending(plain) == (plain, [], [])
    assert run(plain).processed == 1  # writes the photo, not its mask
    assert pending(plain) == ([], plain, [])
    assert pending(plain, overwrite=True) == (plain, [], [])
    # A rerun that asks for the mask is not done yet.
    assert pending(with_mask) == (with_mask, [], [])
    (out / "x_mask.png").write_bytes(b"")
    assert pending(with_mask) == ([], with_mask, [])


def test_failing_save_leaves_no_partial_output(tree, tmp_path, monkeypatch, run):
    inputs = [str(tree / "a"), str(tree / "b"), str(tree / "a" / "deep" / "y.png")]
    tasks = plan_tasks(inputs, output_dir=None, recursive=False).tasks
    original = Image.Image.save

    def exploding_save(image, fp, *args, **kwargs):
        if "y_bokeh.png" in str(getattr(fp, "name", "")):
            fp.write(b"\x89PNG half")
            raise OSError("disk on fire")
        return original(image, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", exploding_save)
    summary = run(tasks)
    assert summary.processed == 2
    assert [path.name for path, _ in summary.failed] == ["y.png"]
    assert "disk on fire" in summary.failed[0][1]
    assert (tree / "b" / "x_bokeh.jpg").exists()
    assert not (tree / "a" / "deep" / "y_bokeh.png").exists()
    assert temp_files(tmp_path) == []


def test_unexpected_exception_is_named(tree, tmp_path, flip_job):
    tasks = plan_tasks([str(tree / "a" / "x.jpg")], output_dir=tmp_path / "o", recursive=False).tasks

    class Broken:
        load, save = flip_job.load, flip_job.save

        def compute(self, photo):
            raise ZeroDivisionError("radius\nwas zero")

    summary = run_batch(tasks, job=Broken(), log=io.StringIO())
    assert summary.failed == [(tasks[0].source, "ZeroDivisionError: radius was zero")]


def test_keyboard_interrupt_stops_cleanly(tree, tmp_path, flip_job):
    out = tmp_path / "out"
    tasks = plan_tasks([str(tree)], output_dir=out, recursive=True).tasks
    calls = []

    class Interrupted:
        """Computes one photo, and is interrupted during the second."""

        def load(self, source):
            return source, flip_job.load(source)

        def compute(self, item):
            source, photo = item
            calls.append(source)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return photo.pixels

        def save(self, item, result, target):
            flip_job.save(item[1], result, target)

    summary = run_batch(tasks, job=Interrupted(), log=io.StringIO())
    assert summary.interrupted
    assert len(calls) == 2
    written = [path for path in out.rglob("*") if path.is_file()]
    destination = {task.source: task.destination for task in tasks}
    assert written == [destination[calls[0]]]
    read_photo(written[0])  # complete, not partial
    assert temp_files(tmp_path) == []
    assert "interrupted" in format_summary(summary)


def test_photos_render_side_by_side_while_their_shares_fit(tmp_path, picture, flip_job):
    for index in range(6):
        picture(tmp_path / "in" / f"p{index}.png", index)
    tasks = plan_tasks([str(tmp_path / "in")], output_dir=tmp_path / "out", recursive=False).tasks

    def counting(part):
        lock = threading.Lock()
        alive = [0, 0]  # rendering now, most at once
        # Two renderings side by side meet at the barrier; one alone times out there and fails.
        meeting = threading.Barrier(2, timeout=5 if part <= 0.5 else 0.2)

        class Counting:
            load, save = flip_job.load, flip_job.save

            def share(self, photo):
                return part

            def compute(self, photo):
                with lock:
                    alive[0] += 1
                    alive[1] = max(alive)
                try:
                    meeting.wait()
                finally:
                    with lock:
                        alive[0] -= 1
                return flip_job.compute(photo)

        return Counting(), alive

    job, alive = counting(0.5)
    summary = run_batch(tasks, job=job, log=io.StringIO())
    assert (summary.processed, summary.failed, alive[1]) == (6, [], 2)
    job, alive = counting(0.6)  # two would not fit: one at a time
    summary = run_batch(tasks, job=job, log=io.StringIO())
    assert alive[1] == 1 and len(summary.failed) == 6


def test_memory_stays_bounded(tmp_path, picture, flip_job):
    for index in range(12):
        picture(tmp_path / "in" / f"p{index:02}.png", index)
    tasks = plan_tasks([str(tmp_path / "in")], output_dir=tmp_path / "out", recursive=False).tasks
    lock = threading.Lock()
    alive = [0, 0]  # now, most

    class Counting:
        compute = flip_job.compute

        def load(self, source):
            photo = flip_job.load(source)
            with lock:
                alive[0] += 1
                alive[1] = max(alive)
            return photo

        def save(self, photo, result, target):
            flip_job.save(photo, result, target)
            with lock:
                alive[0] -= 1

    for jobs in (1, 3):
        alive[:] = [0, 0]
        # run_batch itself skips nothing: the second pass redoes all 12.
        summary = run_batch(tasks, job=Counting(), jobs=jobs, log=io.StringIO())
        assert summary.processed == 12
        assert alive[1] <= jobs + 1


def test_records_are_what_save_returns(tree, flip_job):
    tasks = plan_tasks([str(tree / "a"), str(tree / "b"), str(tree / "bad")], output_dir=None, recursive=False).tasks

    class Recording:
        load, compute = flip_job.load, flip_job.compute

        def save(self, photo, result, target):
            flip_job.save(photo, result, target)
            return None if target.destination.parent.name == "b" else {"output": str(target.destination)}

    summary = run_batch(tasks, job=Recording(), log=io.StringIO())
    assert summary.processed == 2 and len(summary.failed) == 3
    # Failed tasks and those whose record is None have none.
    assert summary.records == {tree / "a" / "x.jpg": {"output": str(tree / "a" / "x_bokeh.jpg")}}


def test_log_lines_and_quiet(tree, tmp_path, run):
    inputs = [str(tree / "a"), str(tree / "bad")]
    tasks = plan_tasks(inputs, output_dir=tmp_path / "o", recursive=False).tasks
    log = io.StringIO()
    run(tasks, log=log)
    lines = log.getvalue().splitlines()
    assert any(line.startswith("[") and "x.jpg ->" in line for line in lines)
    assert sum(line.startswith("FAILED") for line in lines) == 3

    quiet = io.StringIO()
    run(tasks, log=quiet, quiet=True, overwrite=True)
    assert all(line.startswith("FAILED") for line in quiet.getvalue().splitlines())


def test_format_summary():
    summary = Summary(processed=3, skipped=1, failed=[(Path("a.jpg"), "empty file")])
    text = format_summary(summary)
    assert text.splitlines() == ["processed 3, skipped 1, failed 1", "  a.jpg: empty file"]


def test_something_that_is_not_a_file_at_an_output_path_blocks_its_task(tree, tmp_path, run):
    out = tmp_path / "out"
    tasks = plan_tasks([str(tree / "a"), str(tree / "b")], output_dir=out, recursive=False).tasks
    (out / "x.jpg").mkdir(parents=True)  # a folder where a/x.jpg's result goes
    for overwrite in (False, True):
        todo, done, blocked = pending(tasks, overwrite)
        assert todo == [] and done == []
        assert blocked == [(tree / "a" / "x.jpg", f"a folder is where its output {out / 'x.jpg'} goes: move it away")]
    assert (out / "x.jpg").is_dir()


def test_stale_temporaries_of_our_outputs_are_removed(tree, tmp_path):
    out = tmp_path / "out"
    tasks = plan_tasks([str(tree / "a")], output_dir=out, recursive=False, side_outputs=["mask"]).tasks
    out.mkdir()
    stale = [out / ".x.jpg.0a1b2c3d.bokehme-tmp", out / ".x_mask.png.deadbeef.bokehme-tmp"]
    fresh = out / ".x.jpg.12345678.bokehme-tmp"  # a run still writing
    foreign = [out / ".y.jpg.0a1b2c3d.bokehme-tmp", out / "x.jpg.0a1b2c3d.bokehme-tmp"]
    for path in stale + foreign + [fresh]:
        path.write_bytes(b"")
    for path in stale + foreign:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert remove_stale_temporaries(tasks, before=time.time() - 60) == 2
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in foreign + [fresh])


class CountingFlip:
    """FlipJob at 300x400, counting the photos it renders."""

    def __init__(self, flip_job):
        self.flip_job, self.rendered = flip_job, 0

    def load(self, source):
        return self.flip_job.load(source)

    def compute(self, photo):
        self.rendered += 1
        return self.flip_job.compute(photo)

    def save(self, photo, result, target):
        self.flip_job.save(photo, result, target)


def noise_photos(folder, count):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):  # ~360 KB each as PNG: noise does not compress
        Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(folder / f"p{index}.png")


def test_a_full_disk_stops_the_batch_and_leaves_no_partial_file(tmp_path, small_disk, flip_job):
    noise_photos(tmp_path / "in", 8)
    disk = small_disk(1000)  # room for two results and part of a third
    tasks = plan_tasks([str(tmp_path / "in")], output_dir=disk, recursive=False).tasks
    job = CountingFlip(flip_job)
    summary = run_batch(tasks, job=job, jobs=1, log=io.StringIO())
    assert summary.processed == 2 and "No space left on device" in summary.stopped
    assert len(summary.failed) == 1 and summary.failed[0][0] == tmp_path / "in" / "p2.png"
    assert summary.undone == [tmp_path / "in" / f"p{index}.png" for index in range(3, 8)]
    assert job.rendered <= 4  # not the whole folder rendered only to fail writing
    assert sorted(p.name for p in disk.iterdir()) == ["p0.png", "p1.png"]
    for name in ("p0.png", "p1.png"):
        read_photo(disk / name)  # complete
    text = format_summary(summary)
    assert "not done 5" in text and "stopped: " in text and "  not done: " + str(tmp_path / "in" / "p7.png") in text


def test_a_read_only_disk_stops_the_batch(tmp_path, small_disk, flip_job):
    noise_photos(tmp_path / "in", 4)
    disk = small_disk(4000)
    small_disk.read_only(disk)
    tasks = plan_tasks([str(tmp_path / "in")], output_dir=disk, recursive=False).tasks
    summary = run_batch(tasks, job=CountingFlip(flip_job), jobs=1, log=io.StringIO())
    assert summary.processed == 0 and "Read-only file system" in summary.stopped
    assert len(summary.failed) == 1 and len(summary.undone) == 3
