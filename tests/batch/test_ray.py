"""--engine ray against --engine local: the same outputs from the same job, and a killed worker loses nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def bokehme(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bokehme", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def tree(devset_dir, tmp_path_factory):
    """About 30 files: real photos of every devset kind in sub-folders, and hostile ones."""
    root = tmp_path_factory.mktemp("ray") / "in"
    names = sorted(p.name for p in (devset_dir / "images").iterdir())
    for index, name in enumerate(names[::3]):  # 26 photos of every kind
        folder = root / ("people" if name.startswith(("portrait", "pennfudan", "davis16t")) else "other")
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.open(devset_dir / "images" / name)
        image.thumbnail((320, 320))  # small, so that both engines run in CI's time
        image.save(folder / name)
    (root / "bad").mkdir()
    (root / "bad" / "empty.jpg").write_bytes(b"")
    (root / "bad" / "notes.jpg").write_text("not a photo\n")
    whole = (root / "people" / sorted(os.listdir(root / "people"))[0]).read_bytes()
    (root / "bad" / "cut.jpg").write_bytes(whole[: len(whole) // 3])
    os.mkfifo(root / "bad" / "pipe.jpg")
    return root


def summary_of(stderr):
    """The summary lines: the counts and each failure, in order."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("processed "))
    return lines[start:]


def outputs(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_ray_and_local_make_the_same_outputs_and_summary(tree, tmp_path):
    common = ["-r", "--model", "selfie", "--radius", "6"]
    local = bokehme(tree, "-o", tmp_path / "local", *common)
    ray = bokehme(tree, "-o", tmp_path / "ray", *common, "--engine", "ray", "--jobs", "2")
    assert local.returncode == ray.returncode == 1  # the hostile files fail, alike
    assert sorted(summary_of(local.stderr)) == sorted(summary_of(ray.stderr))
    failures = "\n".join(summary_of(ray.stderr)[1:])
    assert all(name in failures for name in ("empty.jpg", "notes.jpg", "cut.jpg", "pipe.jpg"))
    processed = int(summary_of(ray.stderr)[0].split()[1].rstrip(","))
    assert processed >= 20  # the rest: photos of animals and cars, where the selfie model finds nobody
    assert outputs(tmp_path / "local") == outputs(tmp_path / "ray") and len(outputs(tmp_path / "ray")) == processed
    for name in outputs(tmp_path / "local"):
        a = np.asarray(Image.open(tmp_path / "local" / name))
        b = np.asarray(Image.open(tmp_path / "ray" / name))
        assert np.array_equal(a, b), name
    assert "Traceback" not in ray.stderr


def test_a_worker_killed_mid_run_loses_nothing(tree, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "bokehme", str(tree / "people"), "-o", str(out),
                                "--model", "selfie", "--engine", "ray", "--jobs", "2"],
                               cwd=REPO, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 300
    while killed is None and time.time() < deadline and process.poll() is None:
        done = len(list(out.glob("*"))) if out.exists() else 0
        workers = subprocess.run(["pgrep", "-f", "ray::MapWorker"], capture_output=True, text=True).stdout.split()
        if done >= 2 and workers:
            killed = int(workers[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    _, stderr = process.communicate(timeout=600)
    assert killed is not None, "no worker was seen to kill"
    photos = sorted(p.name for p in (tree / "people").iterdir())
    counts = summary_of(stderr)[0].split(",")
    processed, failed = int(counts[0].split()[1]), int(counts[2].split()[1])
    # Every photo was done or failed for a reason of its own: none was lost with the worker.
    assert processed + failed == len(photos) and processed >= len(photos) - 2, stderr
    assert all("no person found" in line for line in summary_of(stderr)[1:])
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(written) == processed and set(written) <= set(photos)
    for name in written:
        Image.open(out / name).load()  # whole
    again = bokehme(tree / "people", "-o", out, "--model", "selfie", "--engine", "ray")
    assert f"processed 0, skipped {processed}, failed {failed}" in again.stderr
    assert not [p for p in out.iterdir() if p.name.endswith(".bokehme-tmp")]


def test_no_cluster_at_the_address_is_one_line(tmp_path):
    shutil.copy(REPO / "sample_images" / "astronaut.jpg", tmp_path / "me.jpg")
    result = bokehme(tmp_path / "me.jpg", "--model", "selfie", "--engine", "ray", "--ray-address", "127.0.0.1:1")
    assert result.returncode == 2 and "Ray cluster" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.jpg"]


def test_workers_start_with_the_rendering_settings_and_the_users_own(tmp_path):
    # A worker is a process of its own: what the bokehme process sets for
    # itself (OpenMP's passive wait, glibc's allocator) must reach it, and
    # what the user set in the environment wins there as it does locally.
    script = (
        "import json, os\n"
        "from bokehme.batch.ray_engine import connect\n"
        "ray = connect(None, 1)\n"
        "names = ['OMP_WAIT_POLICY', 'OMP_NUM_THREADS', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_']\n"
        "seen = ray.get(ray.remote(lambda: {n: os.environ.get(n) for n in names}).remote())\n"
        "print(json.dumps(seen))\n"
        "ray.shutdown()\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMP_", "MALLOC_", "RAY_"))}
    env["MALLOC_ARENA_MAX"] = "4"
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "4",
                    "MALLOC_MMAP_THRESHOLD_": str(14 << 20)}
