"""Tests for bokehme.batch.plan on a tree of good and hostile files made in tmp_path."""

import os
import threading

import pytest

from bokehme.batch.plan import OutputFolderHoldsOriginals, OutputOverwritesInput, is_photo, plan_tasks
from bokehme.io.formats import output_extension


def planned_within(seconds, *args, **kwargs):
    """plan_tasks in a thread: a plan that hangs (on a named pipe) fails the test instead of blocking it."""
    result = []
    planner = threading.Thread(target=lambda: result.append(plan_tasks(*args, **kwargs)), daemon=True)
    planner.start()
    planner.join(timeout=seconds)
    assert not planner.is_alive(), "planning hangs"
    return result[0]


def test_results_beside_inputs_by_default(tree, run):
    inputs = [str(tree / "a" / "x.jpg"), str(tree / "Z.JPEG")]
    tasks = plan_tasks(inputs, output_dir=None, recursive=False).tasks
    assert [t.destination for t in tasks] == [tree / "a" / "x_bokeh.jpg", tree / "Z_bokeh.JPEG"]
    run(tasks)
    assert (tree / "a" / "x_bokeh.jpg").exists() and (tree / "Z_bokeh.JPEG").exists()
    # A second pass over the folder does not take the results as new inputs.
    tasks = plan_tasks([str(tree / "a")], output_dir=None, recursive=False).tasks
    assert [t.source.name for t in tasks] == ["x.jpg"]


def test_not_recursive_stays_at_the_top(tree, tmp_path):
    tasks = plan_tasks([str(tree)], output_dir=tmp_path / "out", recursive=False).tasks
    assert [t.source.name for t in tasks] == ["Z.JPEG"]


def test_globs_missing_inputs_and_explicit_files(tree, picture, run):
    renamed = tree / "photo.dat"  # named explicitly: its content decides, not its name
    picture(renamed, 7, fmt="PNG")
    patterns = [str(tree / "*" / "x.jpg"), str(tree / "*.nothing")]
    inputs = patterns + [str(tree / "missing.jpg"), str(renamed)]
    plan = plan_tasks(inputs, output_dir=None, recursive=False)
    tasks, problems = plan.tasks, plan.failed
    found = sorted(str(t.source.relative_to(tree)) for t in tasks)
    assert found == ["a/x.jpg", "b/x.jpg", "photo.dat"]
    assert (tree / "missing.jpg", "no such file or folder") in problems
    assert (tree / "*.nothing", "no photo matches this pattern") in problems
    assert run(tasks).processed == 3


def test_colliding_outputs_are_reported(tree, tmp_path):
    out = tmp_path / "out"
    plan = plan_tasks(
        [str(tree / "a" / "x.jpg"), str(tree / "b" / "x.jpg")], output_dir=out, recursive=False
    )
    tasks, problems = plan.tasks, plan.failed
    assert [t.destination for t in tasks] == [out / "x.jpg"]
    assert problems == [(tree / "b" / "x.jpg", f"same output as {tree / 'a' / 'x.jpg'} ({out / 'x.jpg'})")]


def test_output_equal_to_input_is_refused(tree):
    with pytest.raises(OutputOverwritesInput):
        plan_tasks([str(tree / "a")], output_dir=tree / "a", recursive=False)
    with pytest.raises(OutputOverwritesInput) as caught:
        plan_tasks([str(tree / "a" / "x.jpg")], output_dir=None, recursive=False, suffix="")
    assert caught.value.source == caught.value.overwritten == tree / "a" / "x.jpg"


def test_output_folder_of_results_inside_input_is_not_walked(tree, picture):
    out = tree / "results"
    picture(out / "Z.JPEG", 8)  # the result of an earlier run for in/Z.JPEG
    picture(out / "a" / "x.png", 9)  # ... and one written with --format png
    tasks = plan_tasks([str(tree)], output_dir=out, recursive=True).tasks
    assert not any(out in t.source.parents for t in tasks)
    assert out / "Z.JPEG" in [t.destination for t in tasks]


def test_output_folder_holding_originals_is_refused(tree, picture):
    # bokehme in -r -o in/a: in/a holds photos no input of the run maps to
    picture(tree / "x.jpg", 10)
    with pytest.raises(OutputFolderHoldsOriginals) as caught:
        plan_tasks([str(tree)], output_dir=tree / "a", recursive=True)
    assert caught.value.folder == tree and caught.value.why == "foreign"
    assert tree / "a" / "deep" / "y.png" in caught.value.photos
    # bokehme in/b -o in: results would land among the originals of in/
    with pytest.raises(OutputFolderHoldsOriginals) as caught:
        plan_tasks([str(tree / "b")], output_dir=tree, recursive=False)
    assert caught.value.why == "holds input" and caught.value.folder == tree / "b"


def test_overwrite_inside_the_input_is_refused_where_results_cannot_be_told_from_originals(tree, picture):
    out = tree / "results"
    picture(out / "Z.JPEG", 8)  # a result of an earlier run, or an original named alike: no telling
    assert plan_tasks([str(tree)], output_dir=out, recursive=True).tasks  # skipped as done, never written
    with pytest.raises(OutputFolderHoldsOriginals) as caught:
        plan_tasks([str(tree)], output_dir=out, recursive=True, overwrite=True)
    assert caught.value.why == "overwrite" and caught.value.photos == (out / "Z.JPEG",)
    assert plan_tasks([str(tree)], output_dir=tree.parent / "elsewhere", recursive=True, overwrite=True).tasks


def test_an_output_that_resolves_to_an_input_is_refused(tree, tmp_path, picture):
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.jpg").symlink_to(tree / "a" / "x.jpg")
    with pytest.raises(OutputOverwritesInput) as caught:
        plan_tasks([str(tree / "a" / "x.jpg")], output_dir=out, recursive=False)
    assert caught.value.overwritten == tree / "a" / "x.jpg"
    # A mask written beside a result may not replace an input either.
    picture(tree / "a" / "x_bokeh_mask.png", 11)
    with pytest.raises(OutputOverwritesInput) as caught:
        plan_tasks([str(tree / "a" / "x.jpg"), str(tree / "a" / "x_bokeh_mask.png")], output_dir=None,
                   recursive=False, side_outputs=["mask"])
    assert caught.value.overwritten == tree / "a" / "x_bokeh_mask.png"


def test_a_folder_without_r_names_what_it_left_out(tree, tmp_path):
    plan = plan_tasks([str(tree)], output_dir=tmp_path / "out", recursive=False)
    # a/ holds x.jpg and deep/y.png, b/ x.jpg, bad/ three damaged files named as photos
    assert plan.notes == [f"{tree}: left out 3 sub-folders holding 6 photos; add -r to include them"]
    only_below = tmp_path / "shoot"
    (only_below / "day1").mkdir(parents=True)
    (only_below / "day1" / "a.jpg").write_bytes(b"")
    empty = tmp_path / "empty"
    empty.mkdir()
    plan = plan_tasks([str(only_below), str(empty)], output_dir=None, recursive=False)
    assert plan.tasks == [] and plan.failed == [
        (only_below, "no photos in this folder; its 1 sub-folder holding 1 photo: add -r to include them"),
        (empty, "no photos in this folder"),
    ]


def test_double_star_spans_folders_without_r(tree):
    tasks = plan_tasks([str(tree / "**" / "*.png")], output_dir=None, recursive=False).tasks
    assert [t.source for t in tasks] == [tree / "a" / "deep" / "y.png"]
    tasks = plan_tasks([str(tree / "**" / "x.jpg")], output_dir=None, recursive=False).tasks
    assert sorted(str(t.source.relative_to(tree)) for t in tasks) == ["a/x.jpg", "b/x.jpg"]


def test_pipes_and_devices_are_never_opened(tree, tmp_path):
    os.mkfifo(tree / "pipe.jpg")
    os.mkfifo(tmp_path / "named.png")
    plan = planned_within(20, [str(tree), str(tmp_path / "named.png"), "/dev/null"], output_dir=tmp_path / "o",
                          recursive=False, extension_for=output_extension)
    assert [t.source.name for t in plan.tasks] == ["Z.JPEG"]
    assert (tree / "pipe.jpg", "a named pipe, not a photo file; left alone") in plan.failed
    assert (tmp_path / "named.png", "a named pipe, not a photo file; left alone") in plan.failed
    assert any(str(path) == "/dev/null" and "character device" in reason for path, reason in plan.failed)


def test_names_up_to_the_file_system_limit(tmp_path, picture):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    long = tmp_path / ("p" * (limit - 4) + ".jpg")  # the longest name a photo can have here
    picture(long, 1)
    mirrored = plan_tasks([str(long)], output_dir=tmp_path / "out", recursive=False)
    assert [t.destination.name for t in mirrored.tasks] == [long.name] and mirrored.failed == []
    beside = plan_tasks([str(long)], output_dir=None, recursive=False)
    assert beside.tasks == []
    [(source, reason)] = beside.failed
    assert source == long and f"is {limit + 6} bytes, more than the {limit}" in reason and "--output" in reason


def test_is_photo_decides_by_name():
    assert is_photo("a/B.JPEG") and is_photo("x.heic") and not is_photo("notes.txt")
    assert not is_photo(".x.jpg.0a1b2c3d.bokehme-tmp") and not is_photo("._IMG_1.jpg")


def test_extension_for_changes_format(tree, tmp_path):
    out = tmp_path / "out"
    tasks = plan_tasks(
        [str(tree / "b"), str(tree / "Z.JPEG")],
        output_dir=out,
        recursive=True,
        extension_for=lambda source: ".png",
    ).tasks
    assert sorted(str(t.destination.relative_to(out)) for t in tasks) == ["Z.png", "x.png"]


def test_symlink_loop_terminates(tmp_path, picture):
    root = tmp_path / "loopy"
    picture(root / "one.jpg", 1)
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)
    (root / "sub" / "self").symlink_to(root / "sub", target_is_directory=True)
    plan = planned_within(20, [str(root)], output_dir=tmp_path / "o", recursive=True)
    assert [t.source.name for t in plan.tasks] == ["one.jpg"]
