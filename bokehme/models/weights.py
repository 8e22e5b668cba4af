"""Where weights come from: a file the user names, the caches, or a download.

Nothing here builds a network; :mod:`bokehme.models.loading` does, from what
this module finds.  Downloads happen only when a model is loaded, never in a
backend's constructor.
"""

import os
import socket
import sys
import urllib.parse
from pathlib import Path

import torch

from . import mobilenetv2
from .base import SegmentationError
from .tflite import sha256_of
from .torchvision_deeplab import torchvision_checkpoint

__all__ = [
    "cache_dir",
    "network_reachable",
    "find_weights",
    "load_state_dict",
    "model_of_state_dict",
    "mobilenetv2_weights",
]

#: Seconds to wait for a weights host before concluding there is no network.
CONNECT_TIMEOUT = 3.0


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


def load_state_dict(path):
    """A state_dict of tensors from a ``torch.save`` file (a checkpoint's ``"model"`` entry too).

    Raises
    ------
    SegmentationError
        If the file holds anything else.
    """
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
    """Which model a state_dict was trained for, from its tensor names."""
    if "backbone.1.block.0.0.weight" in state:
        return "deeplabv3-mobilenet"
    if "backbone.layer4.0.conv1.weight" in state:
        return "deeplabv3-resnet101" if "backbone.layer3.22.conv1.weight" in state else "deeplabv3-resnet50"
    return "deeplabv3-mobilenetv2"


def mobilenetv2_weights(tflite_path):
    """A converted state_dict for a .tflite file, converting once into the cache.

    Returns
    -------
    Path or dict
        The cached ``.pt`` file, or the state_dict itself when the cache
        cannot be written.
    """
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
    checkpoint, url = torchvision_checkpoint(name)
    if checkpoint.exists() or (download and _download(url, checkpoint)):
        return checkpoint
    return None
