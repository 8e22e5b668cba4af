"""Segmentation backends behind one small interface: image in, subject probability out.

Every backend turns an RGB image into per-class probabilities at its own (low)
resolution; :func:`select_subject` turns those into the probability that a
pixel belongs to the subject the user asked for.  Nothing here knows about
files of photos, the command line or rendering; weights files are the one
thing this module reads, because where weights come from is part of choosing
a model.
"""

import contextlib
import os
import socket
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from . import mobilenetv2
from .matte import resize_map
from .mobilenetv2 import VOC_CLASSES, is_tflite, sha256_of

MODEL_NAMES = (
    "auto",
    "deeplabv3-mobilenetv2",
    "deeplabv3-mobilenet",
    "deeplabv3-resnet50",
    "deeplabv3-resnet101",
    "selfie",
)

#: torchvision's DeepLabV3 variants: constructor and weights enum names.
TORCHVISION_VARIANTS = {
    "deeplabv3-mobilenet": ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights"),
    "deeplabv3-resnet50": ("deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights"),
    "deeplabv3-resnet101": ("deeplabv3_resnet101", "DeepLabV3_ResNet101_Weights"),
}

#: Long side of the DeepLabV3-MobileNetV2 input, chosen on the devset (README, "Models").
MOBILENETV2_LONG_SIDE = 513
#: Short side torchvision's DeepLabV3 weights were trained and evaluated at.
TORCHVISION_SHORT_SIDE = 520
#: Long side the selfie model's input is shrunk to; the network itself sees 256 px.
SELFIE_LONG_SIDE = 512

#: Seconds to wait for a weights host before concluding there is no network.
CONNECT_TIMEOUT = 3.0

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class SegmentationError(Exception):
    """A model cannot be used as asked; the message is one line for the user."""


# --------------------------------------------------------------------------
# The interface


class Segmenter:
    """Base of every backend.

    Attributes
    ----------
    name : str
        The ``--model`` name of the backend.
    labels : tuple of str
        Class names, ``labels[0]`` is always ``"background"``.
    """

    name = ""
    labels = ("background",)

    def class_probabilities(self, image):
        """Per-class probabilities of an image.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB image in [0, 1] at full resolution.

        Returns
        -------
        probabilities : (C, h, w) float32 ndarray
            Probabilities at the model's resolution, summing to 1 over C.
        """
        raise NotImplementedError

    def subject_probability(self, image, subject="person"):
        """Probability that each pixel belongs to the subject.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB image in [0, 1].
        subject : str
            Comma-separated class names, or ``"auto"``; see :func:`select_subject`.

        Returns
        -------
        probability : (h, w) float32 ndarray
            In [0, 1], at the model's resolution (same aspect as ``image``).
        """
        check_subject(subject, self.labels, self.name)
        return anchored(select_subject(self.class_probabilities(image), self.labels, subject))


def check_subject(subject, labels, model_name=""):
    """Raise :class:`SegmentationError` unless every class in `subject` is known.

    Returns
    -------
    classes : tuple of str
        The class names, or ``("auto",)``.
    """
    names = tuple(name.strip().lower() for name in subject.split(",") if name.strip())
    if not names:
        raise SegmentationError("--subject is empty; give class names such as 'person,dog', or 'auto'")
    if names == ("auto",):
        return names
    unknown = [name for name in names if name not in labels or name == "background"]
    if unknown:
        known = ", ".join(label for label in labels if label != "background")
        raise SegmentationError(
            f"model {model_name!r} cannot find {', '.join(unknown)}; it knows: {known}"
            + (" (use a DeepLabV3 model for other subjects)" if labels == SelfieSegmenter.labels else "")
        )
    return names


def select_subject(probabilities, labels, subject):
    """Combine class probabilities into one subject probability.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities summing to 1 over C.
    labels : tuple of str
        Names of the C classes, background first.
    subject : str
        Comma-separated class names (all of their pixels are subject), or
        ``"auto"``: the most salient object, see :func:`salient_object`.

    Returns
    -------
    probability : (h, w) float32 ndarray
    """
    names = check_subject(subject, labels)
    if names == ("auto",):
        return salient_object(probabilities)
    index = [labels.index(name) for name in names]
    return np.clip(probabilities[index].sum(axis=0), 0.0, 1.0).astype(np.float32)


def anchored(probability, confident=0.8, rim=0.03):
    """Drop the regions of a subject probability that nothing confident anchors.

    A model's doubtful half-probabilities far from anything it is sure of (a
    flag's stripes, a patterned wall) would become a ghost of sharpness in the
    background.  Hysteresis keeps the regions above 0.5 that hold a pixel above
    `confident`, plus their soft rim within `rim` of the long side.

    Parameters
    ----------
    probability : (h, w) float32 ndarray
    confident : float
        Probability a region must reach somewhere to be kept.
    rim : float
        Width of the soft edge kept around kept regions, as a fraction of the
        long side.

    Returns
    -------
    probability : (h, w) float32 ndarray
    """
    regions, count = ndimage.label(probability > 0.5)
    if count == 0:
        return np.zeros_like(probability)
    peaks = ndimage.maximum(probability, regions, index=np.arange(1, count + 1))
    kept = np.isin(regions, 1 + np.flatnonzero(np.asarray(peaks) >= confident))
    near = ndimage.distance_transform_edt(~kept) <= rim * max(probability.shape)
    return np.where(near, probability, 0.0).astype(np.float32)


def salient_object(probabilities, centre_sigma=0.35):
    """Probability of the most salient non-background object.

    Objects are the connected regions where some non-background class wins.
    Each is scored by its probability mass weighted toward the image centre,
    because photographers put subjects near the middle and large.  Classes
    are pooled inside the winning region, so a rider and the motorbike under
    them count as one subject.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities, background in channel 0.
    centre_sigma : float
        Width of the centre weighting, as a fraction of the image diagonal.

    Returns
    -------
    probability : (h, w) float32 ndarray
        Zero everywhere when nothing but background is found.
    """
    foreground = (1.0 - probabilities[0]).astype(np.float32)
    regions, count = ndimage.label(foreground > 0.5)
    if count == 0:
        return np.zeros_like(foreground)
    h, w = foreground.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    distance2 = ((rows - (h - 1) / 2) ** 2 + (cols - (w - 1) / 2) ** 2) / float(h * h + w * w)
    centre_weight = np.exp(-distance2 / (2 * centre_sigma**2))
    scores = ndimage.sum(foreground * centre_weight, regions, index=np.arange(1, count + 1))
    chosen = regions == 1 + int(np.argmax(scores))
    # Keep the soft rim around the chosen region: its low-probability edge
    # pixels lie outside the 0.5 threshold but belong to the same object.
    margin = max(1, round(0.02 * max(h, w)))
    near = ndimage.binary_dilation(chosen, iterations=margin)
    others = (regions > 0) & ~chosen
    return np.where(near & ~others, foreground, 0.0).astype(np.float32)


# --------------------------------------------------------------------------
# Backends


def _shrink(image, size):
    """Resize a float32 (H, W, 3) image to ``size`` = (h, w) with anti-aliasing.

    Returns a (1, 3, h, w) float32 tensor; torch does this multi-threaded.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor.contiguous()
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)


def _shrink_to_uint8(image, size):
    """:func:`_shrink`, as the (h, w, 3) uint8 array that MediaPipe and the TFLite port take."""
    small = _shrink(image, size)[0].permute(1, 2, 0)
    return np.ascontiguousarray((small.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())


def _size_for_long_side(shape, long_side):
    h, w = shape[:2]
    scale = long_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence C++ log lines that MediaPipe writes straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class SelfieSegmenter(Segmenter):
    """MediaPipe selfie segmentation (bundled in the mediapipe wheel, offline).

    People only; its landscape model is trained on head-and-shoulders shots
    and scored best on the devset's portraits.
    """

    name = "selfie"
    labels = ("background", "person")

    def __init__(self, landscape=True):
        os.environ.setdefault("GLOG_minloglevel", "2")
        with _native_stderr_silenced():
            from mediapipe.python.solutions import selfie_segmentation

            self._graph = selfie_segmentation.SelfieSegmentation(model_selection=int(landscape))
            # The first frame loads the network and logs; keep that out of the user's terminal.
            self._graph.process(np.full((144, 256, 3), 128, np.uint8))

    def class_probabilities(self, image):
        pixels = _shrink_to_uint8(image, _size_for_long_side(image.shape, SELFIE_LONG_SIDE))
        person = self._graph.process(pixels).segmentation_mask
        person = np.clip(person, 0.0, 1.0).astype(np.float32)
        return np.stack([1.0 - person, person])


class TorchvisionDeepLab(Segmenter):
    """torchvision's DeepLabV3 with COCO_WITH_VOC_LABELS weights (21 VOC classes)."""

    labels = VOC_CLASSES

    def __init__(self, name, state_dict, device="cpu"):
        import torchvision.models.segmentation as segmentation

        constructor, _ = TORCHVISION_VARIANTS[name]
        self.name = name
        self.device = torch.device(device)
        aux = any(key.startswith("aux_classifier.") for key in state_dict)
        # weights=None builds the bare architecture; it is only ever used
        # after a strict load of real weights below.
        model = getattr(segmentation, constructor)(
            weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=aux
        )
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
            raise SegmentationError(f"weights do not fit {name}: {first}") from None
        self.half = self.device.type == "cuda"
        # Channels-last convolutions are faster on CPU, as on GPU (20-70% less
        # convolution time measured on 2 cores).
        model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.model = model.half() if self.half else model

    def class_probabilities(self, image):
        h, w = image.shape[:2]
        scale = TORCHVISION_SHORT_SIDE / min(h, w)
        batch = _shrink(image, (max(1, round(h * scale)), max(1, round(w * scale))))
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        batch = ((batch - mean) / std).to(self.device, memory_format=torch.channels_last)
        with torch.inference_mode():
            logits = self.model(batch.half() if self.half else batch)["out"]
            return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()


class MobileNetV2DeepLab(Segmenter):
    """DeepLabV3-MobileNetV2 (PASCAL VOC) from TensorFlow's published weights, in PyTorch."""

    name = "deeplabv3-mobilenetv2"
    labels = VOC_CLASSES

    def __init__(self, model, long_side=MOBILENETV2_LONG_SIDE, device="cpu"):
        device = torch.device(device)
        self.model = model.to(device).half() if device.type == "cuda" else model
        self.long_side = long_side

    @classmethod
    def from_weights(cls, weights, device="cpu"):
        """Build from the .tflite file, its converted state_dict (path), or a state_dict."""
        try:
            return cls(mobilenetv2.load_model(weights), device=device)
        except mobilenetv2.WeightsError as error:
            raise SegmentationError(str(error)) from None

    def class_probabilities(self, image):
        # Shrinking here to the network's own input size makes its resize a no-op.
        pixels = _shrink_to_uint8(image, mobilenetv2.inference_size(*image.shape[:2], long_side=self.long_side))
        return mobilenetv2.class_probabilities(self.model, pixels, long_side=self.long_side)


class PeopleSegmenter(Segmenter):
    """A DeepLabV3 backend whose people gain the selfie model's portrait edges.

    DeepLabV3 covers whole bodies and every VOC class; the selfie model traces
    heads, hair and shoulders more closely but also fires on things that are
    not people.  So the selfie probability is let in only within `reach` of
    where DeepLabV3 sees a person, and taken where it is higher (devset IoU of
    people: 0.902 for DeepLabV3 alone, 0.925 combined; README, "Models").

    Parameters
    ----------
    deeplab : Segmenter
        A backend with a ``"person"`` label.
    selfie : SelfieSegmenter
    reach : float
        How far from DeepLabV3's people the selfie model counts, as a fraction
        of the long side of the probability map.
    """

    def __init__(self, deeplab, selfie, reach=0.1):
        self.deeplab, self.selfie, self.reach = deeplab, selfie, reach
        self.name = f"{deeplab.name}+selfie"
        self.labels = deeplab.labels
        self._person = self.labels.index("person")

    def class_probabilities(self, image):
        probabilities = self.deeplab.class_probabilities(image)
        person = probabilities[self._person]
        selfie = self.selfie.class_probabilities(image)[1]
        selfie = resize_map(selfie, person.shape)
        reach = self.reach * max(person.shape)
        near = ndimage.distance_transform_edt(person <= 0.5) <= reach
        boosted = np.maximum(person, np.where(near, selfie, 0.0)).astype(np.float32)
        # The other classes give up the mass the person class gained, in proportion.
        others = np.maximum(1.0 - person, 1e-6)
        probabilities *= (1.0 - boosted) / others
        probabilities[self._person] = boosted
        return probabilities


# --------------------------------------------------------------------------
# Where weights come from


def cache_dir():
    """bokehme's own cache: ``$BOKEHME_CACHE``, else ``$XDG_CACHE_HOME/bokehme``, else ``~/.cache/bokehme``."""
    if os.environ.get("BOKEHME_CACHE"):
        return Path(os.environ["BOKEHME_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bokehme"


def network_reachable(url, timeout=CONNECT_TIMEOUT):
    """Whether the host of `url` answers a TCP connection within `timeout` seconds."""
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _torchvision_checkpoint(name):
    """Path in torchvision's cache (under TORCH_HOME) where `name`'s weights live, and their URL."""
    import torchvision.models.segmentation as segmentation

    _, enum_name = TORCHVISION_VARIANTS[name]
    url = getattr(segmentation, enum_name).COCO_WITH_VOC_LABELS_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url), url


def _load_state_dict(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SegmentationError(f"{path}: not a PyTorch state_dict ({reason})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise SegmentationError(f"{path}: not a PyTorch state_dict of tensors")
    return state


def model_of_state_dict(state):
    """Which ``--model`` a state_dict was trained for, from its tensor names."""
    if "backbone.1.block.0.0.weight" in state:
        return "deeplabv3-mobilenet"
    if "backbone.layer4.0.conv1.weight" in state:
        return "deeplabv3-resnet101" if "backbone.layer3.22.conv1.weight" in state else "deeplabv3-resnet50"
    return "deeplabv3-mobilenetv2"


def _mobilenetv2_weights(tflite_path):
    """A converted state_dict for a .tflite file, converting once into the cache."""
    digest = sha256_of(tflite_path)
    if digest != mobilenetv2.TFLITE_SHA256:
        raise SegmentationError(
            f"{tflite_path}: not deeplabv3_257_mv_gpu.tflite (sha256 {digest[:12]}…, "
            f"expected {mobilenetv2.TFLITE_SHA256[:12]}…)"
        )
    converted = cache_dir() / f"deeplabv3_mobilenetv2-{digest[:12]}.pt"
    if converted.exists():
        return converted
    try:
        state = mobilenetv2.state_dict_from_tflite(tflite_path)
    except mobilenetv2.WeightsError as error:
        raise SegmentationError(str(error)) from None
    try:
        converted.parent.mkdir(parents=True, exist_ok=True)
        temporary = converted.with_name(converted.name + f".{os.getpid()}.tmp")
        torch.save(state, temporary)
        os.replace(temporary, converted)
    except OSError:
        return state  # an unwritable cache costs a conversion per run, nothing more
    return converted


def _download(url, destination, sha256=None):
    """Download `url` to `destination` with a progress bar; None when there is no network."""
    if not network_reachable(url):
        return None
    destination.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        torch.hub.download_url_to_file(url, str(destination), progress=sys.stderr.isatty())
    except OSError:
        return None
    finally:
        socket.setdefaulttimeout(previous)
    if sha256 and sha256_of(destination) != sha256:
        destination.unlink()
        raise SegmentationError(f"download of {url} has the wrong sha256; not used")
    return destination


def find_weights(name, download=True):
    """Locate weights for model `name` without a user-given file.

    DeepLabV3-MobileNetV2: bokehme's cache, then TensorFlow's published URL.
    torchvision variants: torchvision's cache under TORCH_HOME, then its URL.

    Returns
    -------
    weights : Path or None
        None when none are cached and none can be downloaded.
    """
    if name == "deeplabv3-mobilenetv2":
        tflite = cache_dir() / os.path.basename(mobilenetv2.TFLITE_URL)
        if tflite.exists() or (download and _download(mobilenetv2.TFLITE_URL, tflite, mobilenetv2.TFLITE_SHA256)):
            return tflite
        return None
    checkpoint, url = _torchvision_checkpoint(name)
    if checkpoint.exists() or (download and _download(url, checkpoint)):
        return checkpoint
    return None


def _build(name, weights, device):
    weights = Path(weights)
    if not weights.is_file():
        raise SegmentationError(f"weights file not found: {weights}")
    if is_tflite(weights):
        if name not in ("auto", "deeplabv3-mobilenetv2"):
            raise SegmentationError(f"{weights} is DeepLabV3-MobileNetV2 weights, not {name}")
        return MobileNetV2DeepLab.from_weights(_mobilenetv2_weights(weights), device)
    state = _load_state_dict(weights)
    fits = model_of_state_dict(state)
    if name == "auto":
        name = fits
    if name == "deeplabv3-mobilenetv2":
        return MobileNetV2DeepLab.from_weights(state, device)
    return TorchvisionDeepLab(name, state, device)


def resolve_device(device="auto"):
    """``"auto"`` becomes ``"cuda"`` when a CUDA device is present, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SegmentationError("--device cuda: no CUDA device is available")
    return device


def load_segmenter(model="auto", weights=None, device="auto", warn=None):
    """Load a segmentation backend, once per run.

    Parameters
    ----------
    model : str
        One of :data:`MODEL_NAMES`.
    weights : path-like, optional
        A weights file: the DeepLabV3-MobileNetV2 ``.tflite`` (or its converted
        state_dict), or a torchvision DeepLabV3 state_dict.  Without it, weights
        are looked up as :func:`find_weights` says.
    device : {"auto", "cpu", "cuda"}
    warn : callable, optional
        Called with one line when ``"auto"`` falls back to the selfie model.

    Returns
    -------
    segmenter : Segmenter

    Raises
    ------
    SegmentationError
        Weights missing, unreadable or for another model.
    """
    if model not in MODEL_NAMES:
        raise SegmentationError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    device = resolve_device(device)
    if model == "selfie":
        return SelfieSegmenter()
    if weights is not None:
        segmenter = _build(model, weights, device)
    elif model != "auto":
        found = find_weights(model)
        if found is None:
            raise SegmentationError(
                f"no weights for {model}: none cached and no network; pass --weights FILE (see README, 'Models')"
            )
        return _build(model, found, device)
    else:
        segmenter = _find_any_deeplab(device)
        if segmenter is None:
            if warn is not None:
                warn(
                    "no DeepLabV3 weights cached and no network: using the selfie model (people only); "
                    "pass --weights deeplabv3_257_mv_gpu.tflite for DeepLabV3 (see README, 'Models')"
                )
            return SelfieSegmenter()
    if model == "auto" and segmenter.name == "deeplabv3-mobilenetv2":
        return PeopleSegmenter(segmenter, SelfieSegmenter())
    return segmenter


def _find_any_deeplab(device):
    """DeepLabV3-MobileNetV2 if found or downloadable, else a torchvision variant
    already cached (they are large: never fetched unasked), else None."""
    found = find_weights("deeplabv3-mobilenetv2")
    if found is not None:
        return _build("deeplabv3-mobilenetv2", found, device)
    for name in TORCHVISION_VARIANTS:
        found = find_weights(name, download=False)
        if found is not None:
            return _build(name, found, device)
    return None
