"""The command line, end to end, with the real offline selfie model."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from bokehme import cli
from bokehme.cli.command import command
from bokehme.imaging.composite import render_bokeh
from bokehme.io.depth_maps import read_depth
from bokehme.io.read import read_photo

REPO = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(command, [str(arg) for arg in args], catch_exceptions=False)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def high_frequency_energy(image):
    """Mean squared Laplacian of a float image: what a blur removes."""
    gray = np.asarray(image, np.float32).mean(axis=2)
    laplacian = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float((laplacian**2).mean())


def assert_one_line_error(result, *words):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert any(all(word in line for word in words) for line in lines), result.stderr


@pytest.fixture()
def astronaut_jpg(tmp_path):
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(path, quality=95)
    return path


def test_version_and_help_name_every_option():
    assert run("--version").output.strip().endswith(cli.__version__)
    text = run("--help").output
    for param in command.params:
        for name in getattr(param, "opts", []):
            if name.startswith("--"):
                assert name in text
    flat = " ".join(text.split())
    assert "[default: auto]" in flat and "[default: 95;" in flat and "[default: person]" in flat


def test_entry_points_behave_identically():
    outputs = [
        subprocess.run(command + ["--version"], capture_output=True, text=True, cwd=REPO, check=True).stdout
        for command in ([sys.executable, "bokehME.py"], [sys.executable, "-m", "bokehme"])
    ]
    assert outputs[0] == outputs[1] and cli.__version__ in outputs[0]


def test_selfie_blurs_the_background_and_keeps_the_astronaut(astronaut_jpg):
    before = digest(astronaut_jpg)
    result = run(astronaut_jpg, "--model", "selfie", "--save-mask")
    assert result.exit_code == 0, result.stderr
    output = astronaut_jpg.with_name("astronaut_bokeh.jpg")
    original = np.asarray(Image.open(astronaut_jpg), np.float32)
    rendered = np.asarray(Image.open(output), np.float32)
    assert rendered.shape == original.shape
    alpha = np.asarray(Image.open(astronaut_jpg.with_name("astronaut_bokeh_mask.png")), np.float32) / 255
    face = (slice(90, 170), slice(195, 245))
    assert alpha[face].min() > 0.99
    assert np.abs(rendered[face] - original[face]).mean() < 2.0  # JPEG re-encoding only
    flag = (slice(40, 200), slice(0, 60))  # the stars and stripes behind her
    assert alpha[flag].max() < 0.05
    assert high_frequency_energy(rendered[flag]) < 0.5 * high_frequency_energy(original[flag])
    assert digest(astronaut_jpg) == before


def test_all_zero_mask_gives_exactly_the_background_only_render(tmp_path):
    image = data.coffee()[:200, :300]
    Image.fromarray(image).save(tmp_path / "coffee.png")
    Image.fromarray(np.zeros(image.shape[:2], np.uint8)).save(tmp_path / "mask.png")
    result = run(tmp_path / "coffee.png", "--mask", tmp_path / "mask.png", "--radius", "9")
    assert result.exit_code == 0, result.stderr
    rendered = np.asarray(Image.open(tmp_path / "coffee_bokeh.png"))
    pixels = image.astype(np.float32) / 255
    expected = render_bokeh(pixels, np.zeros(image.shape[:2], np.float32), 9)
    assert np.abs(rendered.astype(int) - np.round(expected * 255).astype(int)).max() <= 1


def test_mask_outputs_for_post_processing(tmp_path):
    image = data.coffee()[:160, :240]
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[40:120, 60:180] = 255
    Image.fromarray(image).save(tmp_path / "cup.jpg", quality=95)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result = run(tmp_path / "cup.jpg", "--mask", tmp_path / "mask.png", "--save-mask", "--cutout", "--radius", "6")
    assert result.exit_code == 0, result.stderr
    saved = Image.open(tmp_path / "cup_bokeh_mask.png")
    assert saved.mode == "L" and np.array_equal(np.asarray(saved), mask)
    cutout = Image.open(tmp_path / "cup_bokeh_cutout.png")
    assert cutout.mode == "RGBA" and cutout.size == (240, 160)
    assert np.array_equal(np.asarray(cutout)[..., 3], mask)


def test_mask_of_the_wrong_size_is_refused(tmp_path):
    Image.fromarray(data.coffee()[:100, :100]).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "mask.png")
    result = run(tmp_path / "a.png", "--mask", tmp_path / "mask.png")
    assert_one_line_error(result, "mask", "100x100")
    assert not (tmp_path / "a_bokeh.png").exists()


def test_a_photo_without_the_subject_is_reported_not_passed_through(tmp_path):
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(tmp_path / "wall.png")
    result = run(tmp_path / "wall.png", "--model", "selfie")
    assert result.exit_code == 1
    assert "wall.png" in result.stderr and "no person found" in result.stderr
    assert not (tmp_path / "wall_bokeh.png").exists()


def test_selfie_with_another_subject_is_a_usage_error(astronaut_jpg):
    result = run(astronaut_jpg, "--model", "selfie", "--subject", "cat")
    assert result.exit_code == 2
    assert_one_line_error(result, "cat", "DeepLabV3")


def test_missing_path(tmp_path):
    assert_one_line_error(run(tmp_path / "nope.jpg", "--model", "selfie"), "nope.jpg")


@pytest.mark.parametrize(
    "name, content",
    [("notes.jpg", b"this is not a photo\n"), ("cut.jpg", None), ("empty.png", b"")],
)
def test_bad_inputs_are_one_line_and_untouched(tmp_path, name, content):
    path = tmp_path / name
    if content is None:  # a JPEG cut off half way
        Image.fromarray(data.astronaut()).save(path, quality=90)
        content = path.read_bytes()[: len(path.read_bytes()) // 2]
    path.write_bytes(content)
    result = run(path, "--model", "selfie")
    assert_one_line_error(result, name)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_unwritable_output_folder(astronaut_jpg, tmp_path):
    # A folder path that runs through a regular file cannot be created, even by root.
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    assert_one_line_error(run(astronaut_jpg, "--model", "selfie", "-o", blocker / "out"), "blocker")
    assert not (blocker.parent / "astronaut_bokeh.jpg").exists()


def test_auto_without_weights_falls_back_to_selfie_with_one_warning(tmp_path, monkeypatch, astronaut_jpg):
    from bokehme.models import weights

    monkeypatch.setenv("BOKEHME_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("BOKEHME_WEIGHTS", raising=False)
    monkeypatch.setattr(weights, "network_reachable", lambda url, timeout=0: False)
    result = run(astronaut_jpg, "--quiet")
    assert result.exit_code == 0
    assert result.stderr == ""
    result = run(astronaut_jpg, "--overwrite")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "selfie" in warnings[0] and "--weights" in warnings[0]


def test_a_folder_batch_with_hostile_files(tmp_path):
    from PIL import ImageCms

    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    (photos / "b").mkdir()
    portrait = Image.fromarray(data.astronaut()).resize((256, 256))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the camera was turned
    exif[0x010F] = "ACME Cameras"
    portrait.rotate(90, expand=True).save(photos / "a" / "x.jpg", quality=95, exif=exif.tobytes(), icc_profile=icc)
    portrait.save(photos / "b" / "x.jpg", quality=95)
    portrait.convert("L").save(photos / "b" / "grey portrait ü.png")
    (photos / "a" / "notes.jpg").write_bytes(b"not a photo")
    (photos / "b" / "empty.png").write_bytes(b"")
    before = {p: digest(p) for p in photos.rglob("*") if p.is_file()}
    out = tmp_path / "out"

    result = run(photos, "-r", "-o", out, "--model", "selfie")
    assert result.exit_code == 1
    assert "processed 3, skipped 0, failed 2" in result.stderr
    assert "notes.jpg" in result.stderr and "empty.png" in result.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a/x.jpg", "b/grey portrait ü.png", "b/x.jpg"]
    assert {p: digest(p) for p in photos.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.rglob("*bokehme-tmp*"))

    upright = Image.open(out / "a" / "x.jpg")
    assert upright.size == (256, 256)  # EXIF orientation applied to the pixels...
    assert upright.getexif()[0x0112] == 1  # ...and reset in the kept EXIF
    assert upright.getexif()[0x010F] == "ACME Cameras"
    assert upright.info["icc_profile"] == icc

    again = run(photos, "-r", "-o", out, "--model", "selfie")
    assert "processed 0, skipped 3" in again.stderr

    stripped = run(photos / "a" / "x.jpg", "-o", tmp_path / "stripped", "--model", "selfie", "--strip-metadata")
    assert stripped.exit_code == 0
    clean = tmp_path / "stripped" / "x.jpg"
    assert not Image.open(clean).getexif() and b"Exif" not in clean.read_bytes()
    assert Image.open(clean).info["icc_profile"] == icc


def test_pii_output_carries_no_metadata_but_the_colour_profile(tmp_path):
    import json

    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "ACME Cameras"  # Make
    exif[0xA431] = "SN-0042"  # BodySerialNumber
    exif[0x013B] = "Jane Doe"  # Artist
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 22.0, 7.5), 3: "E", 4: (4.0, 53.0, 31.0)})
    source = tmp_path / "me.jpg"
    Image.fromarray(data.astronaut()).save(source, quality=95, exif=exif.tobytes(), icc_profile=icc,
                                           comment=b"taken at home")
    assert Image.open(source).getexif().get_ifd(0x8825)  # the oracle sees GPS in the input

    result = run(source, "--model", "selfie", "--pii", "--report", tmp_path / "report.json")
    assert result.exit_code == 0, result.stderr
    output = tmp_path / "me_bokeh.jpg"
    scrubbed = Image.open(output)
    assert not scrubbed.getexif() and "comment" not in scrubbed.info and "exif" not in scrubbed.info
    raw = output.read_bytes()
    assert b"Exif" not in raw and b"GPS" not in raw and b"taken at home" not in raw and b"SN-0042" not in raw
    assert scrubbed.info["icc_profile"] == icc
    report = json.loads((tmp_path / "report.json").read_text())[str(source)]
    assert report["output"] == str(output)
    assert {"Make", "Artist", "BodySerialNumber", "GPSLatitude", "Comment"} <= set(report["metadata_removed"])
    assert report["subject_faces"] >= 1 and report["faces_scrubbed"] == 0
    # Each field says its unit: areas are fractions of the image, sizes are pixels.
    assert 0 < report["subject_area_fraction"] < 1 and 0 <= report["bystander_area_fraction"] < 1
    assert report["radius_px"] > 0 and report["cell_px"] > 0 and report["face_boxes_px"] == []


def test_report_needs_pii(astronaut_jpg, tmp_path):
    result = run(astronaut_jpg, "--report", tmp_path / "r.json")
    assert result.exit_code == 2 and "--pii" in result.stderr


def three_planes(tmp_path):
    """A textured photo in three vertical bands and its disparity map: far, focus, near."""
    rng = np.random.default_rng(1)
    texture = (rng.random((240, 360, 3)) * 255).astype(np.uint8)
    Image.fromarray(texture).save(tmp_path / "planes.png")
    disparity = np.zeros((60, 90), np.uint8)
    disparity[:, 30:60] = 128
    disparity[:, 60:] = 255
    Image.fromarray(disparity).save(tmp_path / "disparity.png")
    Image.fromarray(255 - disparity).save(tmp_path / "distance.png")
    return texture.astype(np.float32)


def detail_kept(before, after, columns):
    return high_frequency_energy(after[20:-20, columns]) / high_frequency_energy(before[20:-20, columns])


def test_depth_file_blurs_with_distance_from_the_focus_plane(tmp_path):
    texture = three_planes(tmp_path)
    args = ["--mask", tmp_path / "none.png", "--radius", "12", "--focus", "180,120"]
    Image.fromarray(np.zeros((240, 360), np.uint8)).save(tmp_path / "none.png")
    result = run(tmp_path / "planes.png", "--depth", tmp_path / "disparity.png", *args)
    assert result.exit_code == 0, result.stderr
    rendered = np.asarray(Image.open(tmp_path / "planes_bokeh.png"), np.float32)
    far, focus, near = slice(0, 100), slice(140, 220), slice(260, 360)
    assert detail_kept(texture, rendered, focus) > 0.9
    assert detail_kept(texture, rendered, far) < 0.2
    assert detail_kept(texture, rendered, near) < 0.2

    flipped = run(tmp_path / "planes.png", "--depth", tmp_path / "distance.png", "--depth-far-bright",
                  "--overwrite", *args)
    assert flipped.exit_code == 0, flipped.stderr
    assert np.abs(np.asarray(Image.open(tmp_path / "planes_bokeh.png"), np.float32) - rendered).max() <= 1


def test_depth_off_blurs_the_whole_background_alike(tmp_path):
    texture = three_planes(tmp_path)
    Image.fromarray(np.zeros((240, 360), np.uint8)).save(tmp_path / "none.png")
    result = run(tmp_path / "planes.png", "--depth", "off", "--mask", tmp_path / "none.png", "--radius", "12")
    assert result.exit_code == 0, result.stderr
    rendered = np.asarray(Image.open(tmp_path / "planes_bokeh.png"), np.float32)
    assert detail_kept(texture, rendered, slice(140, 220)) < 0.2


@pytest.mark.parametrize("focus", ["12", "a,b", "1,2,3"])
def test_bad_focus_is_a_usage_error(astronaut_jpg, focus):
    result = run(astronaut_jpg, "--focus", focus)
    assert result.exit_code == 2 and "--focus" in result.stderr


def test_real_iphone_portrait_depth_is_used(pug_heic, tmp_path):
    photo = tmp_path / "pug.heic"
    photo.write_bytes(pug_heic.read_bytes())
    result = run(photo, "--model", "selfie", "--radius", "60")
    assert result.exit_code == 0, result.stderr
    before = read_photo(photo).pixels * 255
    after = np.asarray(Image.open(tmp_path / "pug_bokeh.jpg"), np.float32)
    disparity = read_depth(photo)
    # The wall (far, top) and the dog (mid-depth) found from the phone's own depth map.
    rows, cols = np.nonzero(disparity < 0.2)
    scale = before.shape[0] / disparity.shape[0]
    wall = (slice(int(rows.min() * scale), int(rows.min() * scale) + 400),
            slice(int(np.median(cols) * scale) - 200, int(np.median(cols) * scale) + 200))
    assert high_frequency_energy(after[wall]) < 0.3 * high_frequency_energy(before[wall])


def test_a_rerun_does_not_take_its_own_masks_and_cutouts_as_photos(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    Image.fromarray(data.astronaut()).resize((200, 200)).save(folder / "me.jpg")
    first = run(folder, "--model", "selfie", "--save-mask", "--cutout")
    assert first.exit_code == 0, first.stderr
    again = run(folder, "--model", "selfie", "--save-mask", "--cutout")
    assert "processed 0, skipped 1, failed 0" in again.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "me.jpg", "me_bokeh.jpg", "me_bokeh_cutout.png", "me_bokeh_mask.png"]


def test_a_rerun_asking_for_masks_writes_them_for_photos_already_done(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    Image.fromarray(data.astronaut()).resize((200, 200)).save(folder / "me.jpg")
    assert run(folder, "--model", "selfie").exit_code == 0
    assert not (folder / "me_bokeh_mask.png").exists()
    again = run(folder, "--model", "selfie", "--save-mask")
    assert "processed 1, skipped 0, failed 0" in again.stderr
    assert (folder / "me_bokeh_mask.png").exists()
    assert "processed 0, skipped 1, failed 0" in run(folder, "--model", "selfie", "--save-mask").stderr


def test_a_photo_named_like_a_result_is_processed_when_named(tmp_path):
    Image.fromarray(data.astronaut()).resize((200, 200)).save(tmp_path / "party_bokeh.jpg")
    result = run(tmp_path / "party_bokeh.jpg", "--model", "selfie", "-o", tmp_path / "out")
    assert result.exit_code == 0 and (tmp_path / "out" / "party_bokeh.jpg").exists()


@pytest.mark.parametrize("args, words", [
    (["--pii", "--blades", "6"], "--pii"),
    (["--pii", "--highlights", "2"], "--pii"),
    (["--pii", "--all-people"], "--all-people"),
    (["--depth-far-bright"], "--depth FILE"),
    (["--depth", "off", "--focus", "3,4"], "--focus"),
    (["--model", "selfie", "--weights", "x.pt"], "--weights"),
])
def test_options_that_would_be_ignored_are_usage_errors(astronaut_jpg, args, words):
    result = run(astronaut_jpg, *args)
    assert result.exit_code == 2 and words in result.stderr
    assert not astronaut_jpg.with_name("astronaut_bokeh.jpg").exists()
