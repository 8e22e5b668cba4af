"""The few boxes of a HEIF file that say how its depth map is turned.

libheif turns each item of a HEIF file by that item's own transform
properties (``irot``, ``imir``, ``clap``) only, so a depth map whose item
lacks its primary image's transforms comes out in sensor orientation.  This
is a small reader of the ISO-BMFF boxes needed to turn it like the photo
(ISO/IEC 23008-12).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["depth_map_transforms", "apply_transforms"]

# auxC types that libheif takes for the depth map of the image they are auxiliary to.
_HEIF_DEPTH_AUXILIARIES = (b"urn:mpeg:hevc:2015:auxid:2", b"urn:mpeg:mpegB:cicp:systems:auxiliary:depth")


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """The ISO-BMFF boxes in ``data[start:end]``.

    Yields
    ------
    kind : bytes
        The four-character box type.
    body, stop : int
        Where the box's content starts and where the box ends.

    Raises
    ------
    ValueError
        If a box's size is impossible or runs past `end`.
    """
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:  # the last box runs to the end of its container
            size = end - start
        if size < header or start + size > end:
            raise ValueError(f"broken {kind!r} box")
        yield kind, start + header, start + size
        start += size


def _heif_item_properties(data: bytes, start: int, end: int) -> dict[int, list[tuple[bytes, bytes]]]:
    """Each item's properties from an ``iprp`` box's content, in ``ipma`` order.

    Returns
    -------
    dict
        Item ID to a list of (box type, box content) pairs.
    """
    children = {kind: (body, stop) for kind, body, stop in _boxes(data, start, end)}
    properties = [(kind, data[body:stop]) for kind, body, stop in _boxes(data, *children[b"ipco"])]
    position, stop = children[b"ipma"]
    version, flags = data[position], data[position + 3]
    id_size, index_size = (2 if version == 0 else 4), (2 if flags & 1 else 1)
    index_mask = 0x7FFF if flags & 1 else 0x7F  # the top bit marks an essential property
    (count,), position = struct.unpack_from(">I", data, position + 4), position + 8
    items = {}
    for _ in range(count):
        item = int.from_bytes(data[position:position + id_size], "big")
        associations = data[position + id_size]
        position += id_size + 1
        indices = [int.from_bytes(data[at:at + index_size], "big") & index_mask
                   for at in range(position, position + associations * index_size, index_size)]
        position += associations * index_size
        if position > stop:
            raise ValueError("ipma runs past its box")
        # Index 0 means "no property".
        items[item] = [properties[index - 1] for index in indices if index]
    return items


def _heif_depth_item(data: bytes, start: int, end: int, primary: int, properties: dict) -> int | None:
    """The item holding the depth map of the `primary` image, as libheif picks it.

    Parameters
    ----------
    data : bytes
        The file.
    start, end : int
        Where the ``iref`` box's content lies in `data`.
    primary : int
        The primary item's ID (``pitm``).
    properties : dict
        `_heif_item_properties`.

    Returns
    -------
    int or None
        An item with an ``auxl`` reference to `primary` and a depth ``auxC``
        type; None if there is none.
    """
    id_size = 2 if data[start] == 0 else 4
    depth_items = []
    for kind, body, stop in _boxes(data, start + 4, end):
        if kind != b"auxl":
            continue
        source = int.from_bytes(data[body:body + id_size], "big")
        targets = [int.from_bytes(data[at:at + id_size], "big") for at in range(body + id_size + 2, stop, id_size)]
        aux_types = {content[4:].split(b"\0")[0] for name, content in properties.get(source, ()) if name == b"auxC"}
        if primary in targets and aux_types & set(_HEIF_DEPTH_AUXILIARIES):
            depth_items.append(source)
    # libheif keeps one depth map per image: the last of its items by ID.
    return max(depth_items, default=None)


def _heif_transforms(properties: list[tuple[bytes, bytes]], size: tuple[int, int] | None) -> list[tuple[str, object]]:
    """An item's transformative properties, in the order libheif applies them.

    Parameters
    ----------
    properties : list of (bytes, bytes)
        The item's (box type, box content) pairs in ``ipma`` order.
    size : (int, int) or None
        The item's (height, width) before any transform (``ispe``); crops
        are left out without it.

    Returns
    -------
    list of (str, object)
        ``("rotate", k)``: k quarter turns anticlockwise (``irot``);
        ``("mirror", axis)``: flip along this numpy axis (``imir``: axis 0
        exchanges top and bottom, axis 1 left and right);
        ``("crop", (top, left, bottom, right))``: keep this window, in
        fractions of the height and width at that point (``clap``).
    """
    height, width = size or (0, 0)
    operations = []
    for kind, content in properties:
        if kind == b"irot":
            operations.append(("rotate", content[0] & 3))
            if content[0] & 1:
                height, width = width, height
        elif kind == b"imir":
            operations.append(("mirror", content[0] & 1))
        elif kind == b"clap" and height and width:
            fractions = struct.unpack_from(">IIIIiIiI", content)  # numerator, denominator pairs
            crop_width, crop_height, offset_x, offset_y = (
                fractions[at] / fractions[at + 1] for at in range(0, 8, 2))
            # The clean aperture is centred on the image's centre plus the offset.
            left, top = (width - crop_width) / 2 + offset_x, (height - crop_height) / 2 + offset_y
            operations.append(("crop", (top / height, left / width,
                                        (top + crop_height) / height, (left + crop_width) / width)))
            height, width = crop_height, crop_width
    return operations


def _depth_correction(primary: list, depth: list) -> list[tuple[str, object]]:
    """What turns a depth map decoded with its own transforms into the photo's frame.

    The depth item's own turns and flips are undone, back to sensor
    orientation, and the primary's applied.  A crop cannot be undone: when
    the depth item has its own, the primary's crops are left out.

    Parameters
    ----------
    primary, depth : list of (str, object)
        `_heif_transforms` of the primary image and of its depth item.

    Returns
    -------
    list of (str, object)
        Operations for `apply_transforms`.
    """
    undo = [(kind, -value % 4 if kind == "rotate" else value) for kind, value in reversed(depth) if kind != "crop"]
    depth_is_cropped = any(kind == "crop" for kind, _ in depth)
    return undo + [(kind, value) for kind, value in primary if not (depth_is_cropped and kind == "crop")]


def depth_map_transforms(data: bytes) -> list[tuple[str, object]]:
    """Transforms to apply to the decoded depth map of a HEIF file (see `_depth_correction`).

    Returns no transform for a file without a depth item, or with boxes too
    damaged to tell: the depth map is then used as libheif decodes it.
    """
    try:
        meta = next((body, stop) for kind, body, stop in _boxes(data) if kind == b"meta")
        boxes = {kind: (body, stop) for kind, body, stop in _boxes(data, meta[0] + 4, meta[1])}
        pitm = boxes[b"pitm"][0]
        primary = int.from_bytes(data[pitm + 4:pitm + (6 if data[pitm] == 0 else 8)], "big")
        properties = _heif_item_properties(data, *boxes[b"iprp"])
        depth = _heif_depth_item(data, *boxes[b"iref"], primary, properties)
        if depth is None:
            return []
        spatial_extents = [content for kind, content in properties.get(primary, ()) if kind == b"ispe"]
        size = struct.unpack_from(">II", spatial_extents[0], 4)[::-1] if spatial_extents else None
        return _depth_correction(_heif_transforms(properties.get(primary, ()), size),
                                 _heif_transforms(properties[depth], None))
    except (StopIteration, KeyError, IndexError, ValueError, ZeroDivisionError, struct.error):
        return []


def apply_transforms(array: np.ndarray, operations: list[tuple[str, object]]) -> np.ndarray:
    """Apply `_heif_transforms` operations to an (H, W) array of any resolution."""
    for kind, value in operations:
        if kind == "rotate":
            array = np.rot90(array, value)
        elif kind == "mirror":
            array = np.flip(array, value)
        else:
            height, width = array.shape[:2]
            top, left, bottom, right = value
            rows = slice(round(top * height), max(round(bottom * height), round(top * height) + 1))
            columns = slice(round(left * width), max(round(right * width), round(left * width) + 1))
            array = array[rows, columns]
    return array
