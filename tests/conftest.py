"""Shared fixtures: where the workplace's real models and photos lie.

The files under ``../shared`` are never part of the repository.  Tests that
need them skip on a developer's machine without them, but fail under CI
(``CI=true``) so that a missing file can never hide a real-model test.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_file(*parts):
    """Return a path under ``../shared``; fail in CI, skip elsewhere, if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mobilenetv2_tflite():
    """The DeepLabV3-MobileNetV2 TFLite file from ``../shared/models``."""
    return shared_file("models", "deeplabv3_257_mv_gpu.tflite")


@pytest.fixture(scope="session")
def devset_dir():
    """The folder of real photos with human-drawn masks."""
    return shared_file("devset")


@pytest.fixture(scope="session")
def pug_heic():
    """A real iPhone Portrait-mode HEIC with a depth image."""
    return shared_file("photos", "pug_portrait_mode.heic")
