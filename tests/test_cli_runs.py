"""The command line as a whole run sees it: start-up, accounting, folders, interruptions, hostile names.

Most tests run ``python -m bokehme`` in a process of its own, as a user
would, so that imports, signals and exit codes are the real ones.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from bokehme.io.read import read_photo

REPO = Path(__file__).resolve().parent.parent
#: What --help, --version and click's usage errors must not wait for.
HEAVY = {"torch", "torchvision", "mediapipe", "skimage", "cv2", "scipy", "numpy", "PIL"}
#: What bokehme's own usage errors (and a rerun with nothing to do) must not wait for.
MODEL_LIBRARIES = {"torch", "torchvision", "mediapipe", "skimage", "cv2", "scipy"}


def bokehme(*args, importtime=False, **kwargs):
    """Run the command in a fresh process from the repository; the CompletedProcess."""
    command = [sys.executable] + ["-X", "importtime"] * importtime + ["-m", "bokehme"] + [str(a) for a in args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, **kwargs)


def imported(result):
    """Top-level packages a run imported, from ``-X importtime``'s lines."""
    names = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in names}


def messages(result):
    """stderr without the import-time lines."""
    return [line for line in result.stderr.splitlines() if not line.startswith("import time:")]


def portrait(path, size=256):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data.astronaut()).resize((size, size)).save(path, quality=92)
    return path


def all_zero_mask(tmp_path, size=256):
    Image.fromarray(np.zeros((size, size), np.uint8)).save(tmp_path / "none.png")
    return tmp_path / "none.png"


# --- Start-up -----------------------------------------------------------------


@pytest.mark.parametrize("args, not_loaded", [
    (["--help"], HEAVY),
    (["--version"], HEAVY),
    (["x.jpg", "--radius", "-3"], HEAVY),  # a bad value, refused by click
    (["x.jpg", "--pii", "--blades", "6"], MODEL_LIBRARIES),  # a bad combination, refused by bokehme
    (["x.jpg", "--subject", "unicorn"], MODEL_LIBRARIES),  # no model knows it: said before any model loads
])
def test_answers_without_loading_the_libraries_photos_need(args, not_loaded):
    result = bokehme(*args, importtime=True)
    assert result.returncode in (0, 2), result.stderr
    assert not imported(result) & not_loaded, sorted(imported(result) & not_loaded)


def test_unknown_subject_is_named_as_unknown_to_every_model():
    result = bokehme("x.jpg", "--model", "selfie", "--subject", "unicorn")
    assert result.returncode == 2
    [line] = messages(result)
    assert "no model knows unicorn" in line and "DeepLabV3" not in line and "cat" in line


def test_a_rerun_with_everything_done_loads_no_model(tmp_path):
    photo = portrait(tmp_path / "me.jpg")
    (tmp_path / "out").mkdir()
    portrait(tmp_path / "out" / "me.jpg")  # done by an earlier run
    result = bokehme(photo, "-o", tmp_path / "out", importtime=True)
    assert result.returncode == 0, result.stderr
    assert not imported(result) & MODEL_LIBRARIES
    assert messages(result) == ["skipping 1 already done (use --overwrite to redo)",
                                "processed 0, skipped 1, failed 0"]  # no weights warning: nothing loaded


# --- One accounting -------------------------------------------------------------


def test_every_input_is_processed_skipped_or_failed(tmp_path):
    a, b = portrait(tmp_path / "a" / "x.jpg"), portrait(tmp_path / "b" / "x.jpg")
    done = portrait(tmp_path / "c" / "y.jpg")
    out = tmp_path / "out"
    portrait(out / "y.jpg")
    result = bokehme(a, b, done, tmp_path / "missing.jpg", "-o", out, "--model", "selfie")
    assert result.returncode == 1
    lines = messages(result)
    summary = lines.index("processed 1, skipped 1, failed 2")
    assert sorted(lines[summary + 1:]) == sorted([
        f"  {tmp_path / 'missing.jpg'}: no such file or folder",
        f"  {b}: same output as {a} ({out / 'x.jpg'})",
    ])


@pytest.mark.parametrize("make, line", [
    (lambda tmp: tmp.joinpath("empty").mkdir() or tmp / "empty", "{}: no photos in this folder"),
    (lambda tmp: tmp / "*.jpg", "{}: no photo matches this pattern"),
])
def test_nothing_to_do_is_one_line(tmp_path, make, line):
    argument = make(tmp_path)
    result = bokehme(argument)
    assert result.returncode == 1
    assert messages(result) == ["bokehme: error: " + line.format(argument)]


def test_folder_without_r_says_what_it_left_out(tmp_path):
    shoot = tmp_path / "shoot"
    portrait(shoot / "top.jpg")
    portrait(shoot / "day1" / "a.jpg")
    portrait(shoot / "day1" / "evening" / "b.jpg")
    portrait(shoot / "day2" / "c.jpg")
    result = bokehme(shoot, "-o", tmp_path / "out", "--model", "selfie", "-q")
    assert result.returncode == 0 and result.stderr == ""
    result = bokehme(shoot, "-o", tmp_path / "out", "--model", "selfie")
    assert f"bokehme: {shoot}: left out 2 sub-folders holding 3 photos; add -r to include them" in messages(result)
    # ** spans folders as with bash's globstar, -r or not.
    result = bokehme(f"{shoot}/**/*.jpg", "-o", tmp_path / "all", "--model", "selfie")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["a.jpg", "b.jpg", "c.jpg", "top.jpg"]


def test_a_folder_at_an_output_path_is_a_failure_not_done(tmp_path):
    photo = portrait(tmp_path / "me.jpg")
    (tmp_path / "me_bokeh.jpg").mkdir()
    result = bokehme(photo, "--mask", all_zero_mask(tmp_path), "--overwrite")
    assert result.returncode == 1
    assert f"  {photo}: a folder is where its output {tmp_path / 'me_bokeh.jpg'} goes: move it away" in messages(result)


# --- Originals are never written ----------------------------------------------------


def digests(folder):
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("inputs, output, words", [
    (["in", "-r"], "in/sub", "--overwrite would replace 1 photos"),
    (["in", "-r"], "in", "would overwrite it"),
    (["in/sub"], "in", "holds the input folder"),
    (["in/sub/me.jpg"], "in/sub", "would overwrite it"),
])
def test_originals_are_never_written(tmp_path, inputs, output, words):
    portrait(tmp_path / "in" / "me.jpg")
    portrait(tmp_path / "in" / "sub" / "me.jpg", size=200)  # another original of the same name
    before = digests(tmp_path / "in")
    result = bokehme(*[tmp_path / i if i != "-r" else i for i in inputs], "-o", tmp_path / output,
                     "--overwrite", "--model", "selfie")
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert digests(tmp_path / "in") == before


# --- No debris, clean interruptions ----------------------------------------------------


def test_a_rerun_removes_the_temporaries_a_killed_run_left(tmp_path):
    photo = portrait(tmp_path / "me.jpg")
    stale = tmp_path / ".me_bokeh.jpg.0a1b2c3d.bokehme-tmp"
    stale.write_bytes(b"\xff\xd8 half a photo")
    os.utime(stale, (time.time() - 3600,) * 2)
    result = bokehme(photo, "--mask", all_zero_mask(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "bokehme: removed 1 temporary files left by an interrupted run" in messages(result)
    assert not stale.exists() and (tmp_path / "me_bokeh.jpg").exists()


def start(args, tmp_path):
    # Ctrl-C reaches the command as from a terminal even when the tests run in
    # a background job, whose shell has the children ignore SIGINT.
    return subprocess.Popen([sys.executable, "-m", "bokehme"] + [str(a) for a in args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_end_a_batch_like_ctrl_c(tmp_path, signum):
    for index in range(8):
        portrait(tmp_path / "in" / f"p{index}.jpg", size=1024)
    out = tmp_path / "out"
    process = start([tmp_path / "in", "-o", out, "--model", "selfie"], tmp_path)
    deadline = time.time() + 120
    while not (out.exists() and any(out.iterdir())) and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and "interrupted; run the same command again to resume" in stderr
    written = [path for path in out.iterdir()]
    assert 0 < len(written) < 8 and not [p for p in written if "bokehme-tmp" in p.name]
    for path in written:
        Image.open(path).load()  # complete


@pytest.mark.parametrize("delay", [0.1, 0.6, 1.5])
def test_ctrl_c_during_start_up_ends_without_a_traceback(tmp_path, delay):
    photo = portrait(tmp_path / "me.jpg")
    process = start([photo, "--model", "selfie"], tmp_path)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr
    # 0: it was done before the signal came; -SIGINT: Python ended it as killed by Ctrl-C, as it
    # does once the interrupt landed in code run from a string during an import (bokehme.cli).
    assert process.returncode in (130, -signal.SIGINT, 0), stderr
    assert not [p for p in tmp_path.iterdir() if "bokehme-tmp" in p.name]


# A Ctrl-C that comes while an extension's initialisation runs Python code of its own, as Cython's
# modules (numpy's among them) do to patch collections.abc: here, as bokehme first imports numpy.
CTRL_C_WHILE_NUMPY_STARTS = """
import ctypes, sys

class CtrlCWhileNumpyStarts:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            ctypes.pythonapi.PyRun_SimpleString(b"import os, signal; os.kill(os.getpid(), signal.SIGINT)")

sys.meta_path.insert(0, CtrlCWhileNumpyStarts())
from bokehme.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("live", [False, True])
def test_ctrl_c_while_an_extension_starts_ends_the_run(tmp_path, make_clip, live):
    # Undeferred, Python prints it as an ignored exception and the run goes on (or the
    # process ends killed by SIGINT after saying it was interrupted).
    if live:
        make_clip(tmp_path / "camera.mp4", frames=3)
        args = ["live", "--camera", tmp_path / "camera.mp4", "--output", tmp_path / "call.mp4", "--model", "selfie"]
    else:
        args = [portrait(tmp_path / "me.jpg"), "--model", "selfie"]
    before = sorted(tmp_path.iterdir())
    result = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_NUMPY_STARTS, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=300,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert result.returncode == 130, result.stderr
    assert "interrupted" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert sorted(tmp_path.iterdir()) == before


# --- Full disks, hostile files and names ---------------------------------------------------


def test_a_full_disk_stops_the_batch_and_names_what_is_left(tmp_path, small_disk):
    for index in range(5):
        portrait(tmp_path / "in" / f"p{index}.png")  # results of about 110 KB each
    disk = small_disk(250)
    result = bokehme(tmp_path / "in", "-o", disk, "--model", "selfie")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = messages(result)
    [counts] = [line for line in lines if line.startswith("processed ")]
    # The photo whose write hit the full disk fails, and the one being written beside it (-j 2).
    processed, failed, undone = map(int, re.fullmatch(
        r"processed (\d+), skipped 0, failed (\d+), not done (\d+) \(stopped: .*No space left on device; "
        r"run the same command again once that is fixed\)", counts).groups())
    assert (processed, failed + undone) == (2, 3) and failed in (1, 2)
    assert f"  not done: {tmp_path / 'in' / 'p4.png'}" in lines
    # Which two come out first is the two renderings' race; each is whole, and nothing else is there.
    written = sorted(disk.iterdir())
    assert len(written) == 2 and {p.name for p in written} < {f"p{index}.png" for index in range(4)}
    for path in written:
        Image.open(path).load()


def test_a_named_pipe_in_a_folder_is_left_alone(tmp_path):
    portrait(tmp_path / "in" / "me.jpg")
    os.mkfifo(tmp_path / "in" / "pipe.jpg")
    result = bokehme(tmp_path / "in", "-o", tmp_path / "out", "--model", "selfie")
    assert result.returncode == 1
    assert f"  {tmp_path / 'in' / 'pipe.jpg'}: a named pipe, not a photo file; left alone" in messages(result)
    assert (tmp_path / "out" / "me.jpg").exists()


def test_odd_names_are_shown_escaped_and_reported_whatever_their_encoding(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    fake = "x\nprocessed 99, skipped 0, failed 0\n.jpg"
    raw = os.fsencode(folder) + b"/caf\xe9 \x1b[31m.jpg"  # Latin-1, not UTF-8, and a terminal escape
    portrait(folder / fake)
    portrait(Path(os.fsdecode(raw)))
    report = tmp_path / "report.json"
    result = bokehme(folder, "-o", tmp_path / "out", "--model", "selfie", "--pii", "--report", report)
    assert result.returncode == 0, result.stderr
    lines = messages(result)
    assert lines[-1] == "processed 2, skipped 0, failed 0"
    assert not [line for line in lines if line.startswith("processed 99")] and "\x1b" not in result.stderr
    assert any("x\\nprocessed 99, skipped 0, failed 0\\n.jpg" in line for line in lines)
    assert any("caf\\xe9 \\x1b[31m.jpg" in line for line in lines)
    records = json.loads(report.read_text(encoding="utf-8"))
    assert sorted(os.fsencode(key) for key in records) == sorted([os.fsencode(folder / fake), raw])


def test_long_names_up_to_the_file_system_limit(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    photo = portrait(tmp_path / ("p" * (limit - 4) + ".jpg"))
    mask = all_zero_mask(tmp_path)
    result = bokehme(photo, "-o", tmp_path / "out", "--mask", mask)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / photo.name).exists()
    beside = bokehme(photo, "--mask", mask)  # NAME_bokeh.jpg would pass the limit
    assert beside.returncode == 1
    assert messages(beside) == [f"bokehme: error: {photo}: the output name {photo.stem}_bokeh.jpg is {limit + 6} "
                                f"bytes, more than the {limit} the file system takes; with --output it keeps "
                                "the photo's own name"]


def test_metadata_too_large_for_the_format_is_left_out_with_a_line(tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta dc:description="' + "x" * 200_000 + '"/>')
    Image.fromarray(data.astronaut()).resize((256, 256)).save(tmp_path / "me.png", pnginfo=info)
    result = bokehme(tmp_path / "me.png", "--format", "jpeg", "--mask", all_zero_mask(tmp_path))
    assert result.returncode == 0, result.stderr
    size = len(read_photo(tmp_path / "me.png").xmp)
    assert f"{tmp_path / 'me.png'}: XMP left out ({size:,} bytes; a JPEG holds at most 65,504)" in messages(result)
    Image.open(tmp_path / "me_bokeh.jpg").load()


def test_a_gray_photo_stays_gray(tmp_path):
    Image.fromarray(data.camera()[:256, :256]).save(tmp_path / "gray.png")
    result = bokehme(tmp_path / "gray.png", "--mask", all_zero_mask(tmp_path), "--format", "jpeg")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "gray_bokeh.jpg").mode == "L"
