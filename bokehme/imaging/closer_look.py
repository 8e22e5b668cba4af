"""A second, closer look at where a segmenter found something small.

A network that sees the whole photo at a few hundred pixels sees a runner
who fills a fifth of the frame as a few dozen pixels, too coarse for the
limbs and sometimes too small to be recognised.  Cropping the region where
something was found and segmenting the crop at the network's own resolution
looks at it again with several times the detail; the crop's probabilities
are pasted back into a finer map of the whole photo.
"""

import cv2
import numpy as np
from scipy import ndimage

__all__ = ["look_boxes", "padded_box", "pixel_box", "paste_looks", "LOOK_GAIN"]

#: The finer map is this many times the whole photo's map, on each side.
LOOK_GAIN = 2

#: A closer look is taken only where it sees at least this many times the
#: detail: where the box's long side is at most 1 / MIN_GAIN of the photo's.
MIN_GAIN = 1.5

#: Context kept around a region, as a fraction of its larger side: the
#: network judges a thing by its surroundings too.
CONTEXT = 0.25


def look_boxes(found, min_area=0.002, most=2):
    """Boxes around small found regions worth a closer look.

    Parameters
    ----------
    found : (h, w) bool ndarray
        Where the segmenter found something, at its resolution.
    min_area : float
        Smallest region, as a share of the frame; smaller ones are noise.
    most : int
        Largest number of boxes, the regions with the most area first.

    Returns
    -------
    boxes : list of (top, bottom, left, right) float tuples
        Fractions of the frame's height and width; overlapping boxes are
        merged, and boxes whose long side, in pixels, is more than
        ``1 / MIN_GAIN`` of the frame's long side dropped.
    """
    h, w = found.shape
    regions, count = ndimage.label(found)
    if count == 0:
        return []
    areas = ndimage.sum(found, regions, index=np.arange(1, count + 1))
    boxes = []
    for (rows, cols), area in zip(ndimage.find_objects(regions), areas):
        if area < min_area * h * w:
            continue
        pad = CONTEXT * max(rows.stop - rows.start, cols.stop - cols.start)
        boxes.append([*padded_box(rows, cols, pad, found.shape), area])
    boxes = _merged(boxes)
    boxes = [box for box in boxes if MIN_GAIN * max((box[1] - box[0]) * h, (box[3] - box[2]) * w) <= max(h, w)]
    boxes.sort(key=lambda box: -box[4])
    return [tuple(box[:4]) for box in boxes[:most]]


def _merged(boxes):
    """Overlapping boxes merged into their bounding boxes, their areas added."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                b = boxes[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    boxes[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]), a[4] + b[4]]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def padded_box(rows, cols, pad, shape):
    """The box of pixel slices `rows`, `cols`, widened by `pad` pixels on every side within an image of `shape`.

    Returns
    -------
    (top, bottom, left, right) float tuple
        Fractions of the image's height and width, in [0, 1].
    """
    h, w = shape[:2]
    return (max(0.0, (rows.start - pad) / h), min(1.0, (rows.stop + pad) / h),
            max(0.0, (cols.start - pad) / w), min(1.0, (cols.stop + pad) / w))


def pixel_box(box, shape):
    """A fractional box as (top, bottom, left, right) pixel bounds in an image of `shape`."""
    h, w = shape[:2]
    top, bottom, left, right = box
    return (int(np.floor(top * h)), max(int(np.floor(top * h)) + 1, int(np.ceil(bottom * h))),
            int(np.floor(left * w)), max(int(np.floor(left * w)) + 1, int(np.ceil(right * w))))


def paste_looks(probabilities, looks, image_shape):
    """A finer map of the whole photo with the closer looks pasted in.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities of the whole photo.
    looks : list of (box, (C, h', w') float32 ndarray)
        Each box (see :func:`look_boxes`) with the probabilities of its crop.
    image_shape : tuple
        The photo's (H, W), where the boxes were cut.

    Returns
    -------
    (C, LOOK_GAIN * h, LOOK_GAIN * w) float32 ndarray
        The whole photo's probabilities enlarged (bilinear), each crop's laid
        over its box: inside it the closer look decides, as it sees the
        outline with more detail and the box keeps a quarter of the region's
        size around it as context.
    """
    if not looks:
        return probabilities
    _, h, w = probabilities.shape
    fine = _enlarged(probabilities, (LOOK_GAIN * h, LOOK_GAIN * w))
    for box, crop in looks:
        # The crop's pixel bounds, placed on the finer grid.
        top, bottom, left, right = pixel_box(box, image_shape)
        sy, sx = fine.shape[1] / image_shape[0], fine.shape[2] / image_shape[1]
        y0, y1 = round(top * sy), max(round(top * sy) + 1, round(bottom * sy))
        x0, x1 = round(left * sx), max(round(left * sx) + 1, round(right * sx))
        _enlarged(crop, (y1 - y0, x1 - x0), out=fine[:, y0:y1, x0:x1])
    return fine


def _enlarged(planes, shape, out=None):
    """(C, h, w) float32 planes resized bilinearly (pixel centres aligned) to `shape`, into `out` if given.

    OpenCV's resize, plane by plane: what ``F.interpolate(mode="bilinear",
    align_corners=False)`` gives, to float rounding, in half its time.
    """
    planes = np.asarray(planes, np.float32)  # OpenCV would write a float64 result elsewhere than `out`
    if out is None:
        out = np.empty((len(planes), *shape), np.float32)
    for plane, into in zip(planes, out):
        if into.flags.c_contiguous:
            cv2.resize(plane, shape[::-1], dst=into, interpolation=cv2.INTER_LINEAR)
        else:
            into[...] = cv2.resize(plane, shape[::-1], interpolation=cv2.INTER_LINEAR)
    return out
