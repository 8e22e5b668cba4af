"""Fixtures shared by the tests of bokehme.imaging: synthetic scenes and their helpers."""

import numpy as np
import pytest
from PIL import Image
from skimage import data, draw, transform

from bokehme.imaging.depth_map import focus_disparity
from bokehme.io.read import read_depth_file


def _photo(name, size):
    img = transform.resize(getattr(data, name)()[..., :3], (size, size), anti_aliasing=True)
    return img.astype(np.float32)


@pytest.fixture(scope="session")
def photo():
    """``photo(name, size)``: a scikit-image sample photo, square, float32 sRGB."""
    return _photo


@pytest.fixture()
def hairy_scene():
    """A dark-haired blob with thin strands over a textured background.

    Returns (image, alpha, foreground, background) of a 256x256 scene.
    """
    size, seed = 256, 0
    rng = np.random.default_rng(seed)
    sup = 4
    canvas = np.zeros((size * sup, size * sup), bool)
    c = size * sup / 2
    rr, cc = draw.disk((c * 1.1, c), size * sup * 0.3, shape=canvas.shape)
    canvas[rr, cc] = True
    for _ in range(40):
        angle = rng.uniform(-np.pi, 0)
        y, x = c * 1.1 + 0.28 * size * sup * np.sin(angle), c + 0.28 * size * sup * np.cos(angle)
        heading = angle + rng.normal(0, 0.3)
        for _ in range(int(rng.uniform(15, 40) * sup / 2)):
            heading += rng.normal(0, 0.05)
            y, x = y + 2 * np.sin(heading), x + 2 * np.cos(heading)
            rr, cc = draw.disk((y, x), rng.uniform(0.4, 1.0) * sup, shape=canvas.shape)
            canvas[rr, cc] = True
    alpha = canvas.reshape(size, sup, size, sup).mean((1, 3), dtype=np.float32)
    fg = np.empty((size, size, 3), np.float32)
    fg[:] = [0.3, 0.18, 0.1]
    bg = _photo("coffee", size)
    image = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    return image, alpha, fg, bg


def _blob(shape, centre, radius):
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    distance = np.hypot(rows - centre[0], cols - centre[1])
    return np.clip((radius + 2 - distance) / 4, 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def blob():
    """``blob(shape, centre, radius)``: a person's probability, a disc with a 4-pixel soft rim."""
    return _blob


@pytest.fixture(scope="session")
def depth_scene(three_planes, tmp_path_factory):
    """The three planes with their disparity read back through a depth PNG, and the focus.

    Returns (image, disparity, focus), focused on the middle plane.
    """
    planes = three_planes
    path = tmp_path_factory.mktemp("depth") / "disparity.png"
    Image.fromarray(planes.levels).save(path)
    disparity = read_depth_file(path)
    focus = focus_disparity(disparity, focus_xy=(planes.width // 2, planes.height // 4))
    return planes.image, disparity, focus
