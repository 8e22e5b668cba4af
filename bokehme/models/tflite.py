"""Reading the constants of a TensorFlow Lite flatbuffer, without a TFLite runtime."""

import hashlib
import os

import numpy as np

__all__ = ["TFLiteError", "is_tflite", "read_tflite_tensors", "sha256_of"]

# TFLite TensorType codes of the constants a file may hold.
_TFLITE_DTYPES = {0: np.float32, 2: np.int32}


class TFLiteError(ValueError):
    """A file is not a TFLite flatbuffer or holds what cannot be read."""


def is_tflite(path):
    """Whether a file is a TensorFlow Lite flatbuffer (its identifier is ``TFL3``)."""
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"TFL3"


# TFLite TensorType codes of the constants this file holds.


def read_tflite_tensors(path):
    """Read the constant tensors of a TFLite flatbuffer.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.tflite`` file.

    Returns
    -------
    tensors : dict of str to np.ndarray
        Every tensor that has stored data, by its graph name, in TFLite's
        layout (OHWI convolution weights, 1HWC depthwise weights).

    Raises
    ------
    TFLiteError
        If the file is not a TFLite flatbuffer.
    """
    if not is_tflite(path):
        raise TFLiteError(f"{os.fspath(path)}: not a TFLite flatbuffer")
    # Only conversion needs the flatbuffer schema; importing mediapipe is slow.
    from mediapipe.tasks.metadata import schema_py_generated as schema

    with open(path, "rb") as f:
        data = f.read()
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    tensors = {}
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:
            continue  # an activation, not a constant
        dtype = _TFLITE_DTYPES.get(tensor.Type())
        if dtype is None:
            raise TFLiteError(f"{os.fspath(path)}: tensor {tensor.Name().decode()!r}"
                               f" has unsupported TFLite type {tensor.Type()}")
        shape = tuple(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        tensors[tensor.Name().decode()] = raw.view(dtype).reshape(shape).copy()
    return tensors


def sha256_of(path):
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
