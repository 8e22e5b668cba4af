"""Tests for bokehme.batch on a tree of good and hostile files made in tmp_path."""

import hashlib
import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bokehme.batch import Summary, UsageError, format_summary, plan_tasks, run_batch
from bokehme.photo_io import read_photo, write_photo


def load(task):
    return read_photo(task.source)


def flip(task, photo):
    return photo.pixels[::-1]


def save(task, photo, result):
    write_photo(task.destination, result, source=photo)


def run(tasks, **kwargs):
    kwargs.setdefault("log", io.StringIO())
    return run_batch(tasks, load=load, compute=flip, save=save, **kwargs)


def picture(path, seed, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


def digests(folder):
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def temp_files(folder):
    return [path for path in folder.rglob("*") if "bokehme-tmp" in path.name]


@pytest.fixture
def tree(tmp_path):
    """in/ with good photos in sub-folders, hostile files, a previous output and a loop."""
    root = tmp_path / "in"
    picture(root / "a" / "x.jpg", 1)
    picture(root / "b" / "x.jpg", 2)
    picture(root / "a" / "deep" / "y.png", 3)
    picture(root / "Z.JPEG", 4)
    picture(root / "z_bokeh.jpg", 5)  # our own output from an earlier run
    (root / "bad").mkdir()
    (root / "bad" / "empty.jpg").write_bytes(b"")
    (root / "bad" / "text.jpg").write_text("hello\n")
    picture(root / "bad" / "whole.jpg", 6)
    data = (root / "bad" / "whole.jpg").read_bytes()
    (root / "bad" / "whole.jpg").unlink()
    (root / "bad" / "cut.jpg").write_bytes(data[: len(data) // 2])
    (root / "notes.txt").write_text("not an image, not picked up\n")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    return root


GOOD = ["Z.JPEG", "a/deep/y.png", "a/x.jpg", "b/x.jpg"]
BAD = ["bad/cut.jpg", "bad/empty.jpg", "bad/text.jpg"]


def test_batch_over_a_hostile_tree(tree, tmp_path):
    out = tmp_path / "out"
    before = digests(tree)
    tasks, problems = plan_tasks([str(tree)], output_dir=out, recursive=True)
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


def test_results_beside_inputs_by_default(tree):
    inputs = [str(tree / "a" / "x.jpg"), str(tree / "Z.JPEG")]
    tasks, _ = plan_tasks(inputs, output_dir=None, recursive=False)
    assert [t.destination for t in tasks] == [tree / "a" / "x_bokeh.jpg", tree / "Z_bokeh.JPEG"]
    run(tasks)
    assert (tree / "a" / "x_bokeh.jpg").exists() and (tree / "Z_bokeh.JPEG").exists()
    # A second pass over the folder does not take the results as new inputs.
    tasks, _ = plan_tasks([str(tree / "a")], output_dir=None, recursive=False)
    assert [t.source.name for t in tasks] == ["x.jpg"]


def test_not_recursive_stays_at_the_top(tree, tmp_path):
    tasks, _ = plan_tasks([str(tree)], output_dir=tmp_path / "out", recursive=False)
    assert [t.source.name for t in tasks] == ["Z.JPEG"]


def test_globs_missing_inputs_and_explicit_files(tree, tmp_path):
    renamed = tree / "photo.dat"  # named explicitly: its content decides, not its name
    picture(renamed, 7, fmt="PNG")
    patterns = [str(tree / "*" / "x.jpg"), str(tree / "*.nothing")]
    inputs = patterns + [str(tree / "missing.jpg"), str(renamed)]
    tasks, problems = plan_tasks(inputs, output_dir=None, recursive=False)
    found = sorted(str(t.source.relative_to(tree)) for t in tasks)
    assert found == ["a/x.jpg", "b/x.jpg", "photo.dat"]
    assert any("no such file" in p and "missing.jpg" in p for p in problems)
    assert any("nothing matches" in p for p in problems)
    assert run(tasks).processed == 3


def test_colliding_outputs_are_reported(tree, tmp_path):
    out = tmp_path / "out"
    tasks, problems = plan_tasks(
        [str(tree / "a" / "x.jpg"), str(tree / "b" / "x.jpg")], output_dir=out, recursive=False
    )
    assert [t.destination for t in tasks] == [out / "x.jpg"]
    assert len(problems) == 1 and "b/x.jpg" in problems[0] and "same output" in problems[0]


def test_output_equal_to_input_is_refused(tree):
    with pytest.raises(UsageError):
        plan_tasks([str(tree / "a")], output_dir=tree / "a", recursive=False)
    with pytest.raises(UsageError):
        plan_tasks([str(tree / "a" / "x.jpg")], output_dir=None, recursive=False, suffix="")


def test_output_folder_inside_input_is_not_walked(tree):
    out = tree / "results"
    picture(out / "old.jpg", 8)
    tasks, _ = plan_tasks([str(tree)], output_dir=out, recursive=True)
    assert not any(out in t.source.parents for t in tasks)


def test_extension_for_changes_format(tree, tmp_path):
    out = tmp_path / "out"
    tasks, _ = plan_tasks(
        [str(tree / "b"), str(tree / "Z.JPEG")],
        output_dir=out,
        recursive=True,
        extension_for=lambda source: ".png",
    )
    assert sorted(str(t.destination.relative_to(out)) for t in tasks) == ["Z.png", "x.png"]


def test_symlink_loop_terminates(tmp_path):
    root = tmp_path / "loopy"
    picture(root / "one.jpg", 1)
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)
    (root / "sub" / "self").symlink_to(root / "sub", target_is_directory=True)
    result = []

    def plan():
        result.append(plan_tasks([str(root)], output_dir=tmp_path / "o", recursive=True))

    walker = threading.Thread(target=plan, daemon=True)
    walker.start()
    walker.join(timeout=20)
    assert not walker.is_alive(), "walking a symlink loop did not terminate"
    tasks, _ = result[0]
    assert [t.source.name for t in tasks] == ["one.jpg"]


def test_failing_save_leaves_no_partial_output(tree, tmp_path, monkeypatch):
    inputs = [str(tree / "a"), str(tree / "b"), str(tree / "a" / "deep" / "y.png")]
    tasks, _ = plan_tasks(inputs, output_dir=None, recursive=False)
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


def test_unexpected_exception_is_named(tree, tmp_path):
    tasks, _ = plan_tasks([str(tree / "a" / "x.jpg")], output_dir=tmp_path / "o", recursive=False)

    def broken(task, photo):
        raise ZeroDivisionError("radius\nwas zero")

    summary = run_batch(tasks, load=load, compute=broken, save=save, log=io.StringIO())
    assert summary.failed == [(tasks[0].source, "ZeroDivisionError: radius was zero")]


def test_keyboard_interrupt_stops_cleanly(tree, tmp_path):
    out = tmp_path / "out"
    tasks, _ = plan_tasks([str(tree)], output_dir=out, recursive=True)
    calls = []

    def compute(task, photo):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return photo.pixels

    summary = run_batch(tasks, load=load, compute=compute, save=save, log=io.StringIO())
    assert summary.interrupted
    assert len(calls) == 2
    written = [path for path in out.rglob("*") if path.is_file()]
    assert written == [calls[0].destination]
    read_photo(written[0])  # complete, not partial
    assert temp_files(tmp_path) == []
    assert "interrupted" in format_summary(summary)


def test_memory_stays_bounded(tmp_path):
    for index in range(12):
        picture(tmp_path / "in" / f"p{index:02}.png", index)
    tasks, _ = plan_tasks([str(tmp_path / "in")], output_dir=tmp_path / "out", recursive=False)
    lock = threading.Lock()
    alive = [0, 0]  # now, most

    def counting_load(task):
        photo = load(task)
        with lock:
            alive[0] += 1
            alive[1] = max(alive)
        return photo

    def save_and_release(task, photo, result):
        save(task, photo, result)
        with lock:
            alive[0] -= 1

    for jobs in (1, 3):
        alive[:] = [0, 0]
        summary = run_batch(
            tasks,
            load=counting_load,
            compute=flip,
            save=save_and_release,
            jobs=jobs,
            overwrite=True,
            log=io.StringIO(),
        )
        assert summary.processed == 12
        assert alive[1] <= jobs + 1


def test_log_lines_and_quiet(tree, tmp_path):
    inputs = [str(tree / "a"), str(tree / "bad")]
    tasks, _ = plan_tasks(inputs, output_dir=tmp_path / "o", recursive=False)
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
