"""Tests for bokehme.batch.plan on a tree of good and hostile files made in tmp_path."""

import threading

import pytest

from bokehme.batch.plan import OutputOverwritesInput, plan_tasks


def test_results_beside_inputs_by_default(tree, run):
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


def test_globs_missing_inputs_and_explicit_files(tree, picture, run):
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
    with pytest.raises(OutputOverwritesInput):
        plan_tasks([str(tree / "a")], output_dir=tree / "a", recursive=False)
    with pytest.raises(OutputOverwritesInput) as caught:
        plan_tasks([str(tree / "a" / "x.jpg")], output_dir=None, recursive=False, suffix="")
    assert caught.value.source == caught.value.overwritten == tree / "a" / "x.jpg"


def test_output_folder_inside_input_is_not_walked(tree, picture):
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


def test_symlink_loop_terminates(tmp_path, picture):
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
