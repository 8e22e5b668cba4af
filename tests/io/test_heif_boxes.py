"""Tests for bokehme.io.heif_boxes: a HEIF depth map ends up in the photo's frame.

libheif decodes each item with its own transform properties (irot, imir,
clap, in ipma order); the depth map must end up in the photo's frame.
"""

import struct

import numpy as np
import pytest

from bokehme.io.depth_maps import read_depth
from bokehme.io.heif_boxes import apply_transforms, depth_map_transforms
from bokehme.io.read import read_photo

DEPTH_AUX = b"urn:mpeg:hevc:2015:auxid:2"


def box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I", 8 + len(content)) + kind + content


def full_box(kind: bytes, content: bytes) -> bytes:
    return box(kind, b"\0\0\0\0" + content)


def heif_head(primary: list[bytes], depth: list[bytes], aux_type=DEPTH_AUX) -> bytes:
    """ftyp and meta of a HEIF whose primary image (item 1) has a depth map (item 2).

    `primary` and `depth` are the items' property boxes, in association order.
    """
    properties = primary + depth + [full_box(b"auxC", aux_type + b"\0")]
    first_depth = len(primary) + 1
    primary_associations = bytes(0x80 | index for index in range(1, first_depth))  # essential
    depth_associations = bytes(range(first_depth, len(properties) + 1))
    ipma = full_box(b"ipma", struct.pack(">IHB", 2, 1, len(primary_associations)) + primary_associations
                    + struct.pack(">HB", 2, len(depth_associations)) + depth_associations)
    meta = full_box(b"meta", full_box(b"pitm", struct.pack(">H", 1))
                    + full_box(b"iref", box(b"auxl", struct.pack(">HHH", 2, 1, 1)))
                    + box(b"iprp", box(b"ipco", b"".join(properties)) + ipma))
    return box(b"ftyp", b"heic\0\0\0\0mif1heic") + meta


def irot(turns):
    return box(b"irot", bytes([turns]))


def imir(axis):
    return box(b"imir", bytes([axis]))


def as_libheif_decodes(array, properties):
    """An item as libheif decodes it: its irot and imir applied in order.

    irot: anticlockwise quarter turns; imir axis 0 exchanges top and bottom, 1
    left and right (ISO/IEC 23008-12:2022 6.5.12, libheif Box_imir).  The
    real-file test below checks these against libheif itself.
    """
    for prop in properties:
        kind, value = prop[4:8], prop[8]
        array = np.rot90(array, value) if kind == b"irot" else np.flip(array, value)
    return array


def corrected_depth(head: bytes, decoded: np.ndarray) -> np.ndarray:
    return apply_transforms(decoded, depth_map_transforms(head))


@pytest.mark.parametrize("primary, depth", [
    ([], []),
    ([irot(1)], []),
    ([irot(2)], []),
    ([irot(3)], []),
    ([imir(0)], []),
    ([imir(1)], []),
    ([irot(1), imir(1)], []),
    ([imir(1), irot(1)], []),
    ([irot(1)], [irot(1)]),
    ([irot(3), imir(0)], [irot(3)]),
    ([], [irot(1)]),
    ([imir(1)], [irot(2), imir(0)]),
])
def test_heif_depth_map_turned_like_the_photo(primary, depth):
    sensor = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    photo = as_libheif_decodes(sensor, primary)
    decoded_depth = as_libheif_decodes(sensor, depth)
    np.testing.assert_array_equal(corrected_depth(heif_head(primary, depth), decoded_depth), photo)


def test_heif_depth_map_cropped_like_the_photo():
    # A 12x18 photo cropped to its 6x8 clean aperture, one pixel right of and
    # above the centre, then turned; the depth map has half its resolution.
    clap = box(b"clap", struct.pack(">IIIIiIiI", 8, 1, 6, 1, 1, 1, -1, 1))
    primary = [full_box(b"ispe", struct.pack(">II", 18, 12)), clap, irot(1)]
    depth = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    np.testing.assert_array_equal(corrected_depth(heif_head(primary, []), depth), np.rot90(depth[1:4, 3:7]))


def test_heif_depth_of_another_kind_or_image_is_left_alone():
    sensor = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    alpha = heif_head([irot(1)], [], aux_type=b"urn:mpeg:hevc:2015:auxid:1")
    np.testing.assert_array_equal(corrected_depth(alpha, sensor), sensor)
    not_of_primary = heif_head([irot(1)], []).replace(struct.pack(">HHH", 2, 1, 1), struct.pack(">HHH", 2, 1, 3))
    np.testing.assert_array_equal(corrected_depth(not_of_primary, sensor), sensor)


def test_damaged_heif_boxes_mean_no_transform():
    head = heif_head([irot(1), imir(1)], [])
    # The whole head does say how to turn the depth map: the damage below is what takes it away.
    assert depth_map_transforms(head) == [("rotate", 1), ("mirror", 1)]
    rng = np.random.default_rng(0)
    for damaged in [head[:cut] for cut in range(len(head))] + [
        bytes(rng.integers(0, 256, len(head), dtype=np.uint8)) for _ in range(20)
    ]:
        # Never an exception, and no transform: the depth map is used as decoded.
        assert depth_map_transforms(damaged) == []
    for unreadable in (b"ipma", struct.pack(">IHB", 2, 1, 2), bytes([0x81, 0x82])):
        assert depth_map_transforms(head.replace(unreadable, b"\xff" * len(unreadable))) == []


# --------------------------------------------------------------------------- the real iPhone HEIC, edited


def pug_edited(pug_heic, path, kind: bytes, value: int, on_depth: bool):
    """The pug HEIC with its irot property (angle 0, shared by all its images) changed.

    The property becomes `kind` (``irot`` or ``imir``, both one byte) with
    `value`; unless `on_depth`, the depth item no longer has it.  Same size:
    no offset in the file moves.
    """
    data = bytearray(pug_heic.read_bytes())
    ftyp_size = struct.unpack_from(">I", data, 0)[0]
    meta_end = ftyp_size + struct.unpack_from(">I", data, ftyp_size)[0]
    ipco = data.index(b"ipco", 0, meta_end) + 4
    ipco_end = ipco - 8 + struct.unpack_from(">I", data, ipco - 8)[0]
    offsets, at = [], ipco
    while at < ipco_end:
        offsets.append(at)
        at += struct.unpack_from(">I", data, at)[0]
    kinds = [bytes(data[at + 4:at + 8]) for at in offsets]
    assert kinds.count(b"irot") == 1
    rotation = offsets[kinds.index(b"irot")]
    data[rotation + 4:rotation + 8], data[rotation + 8] = kind, value
    if not on_depth:
        depth_aux = 1 + next(i for i, at in enumerate(offsets) if data[at + 12:at + 12 + len(DEPTH_AUX)] == DEPTH_AUX)
        ipma = ipco_end + 4
        assert data[ipma:ipma + 4] == b"ipma"
        assert data[ipma + 4:ipma + 8] == b"\0\0\0\0"  # version 0, flags 0: 16-bit IDs, 7-bit indices
        entry = ipma + 12
        for _ in range(struct.unpack_from(">I", data, ipma + 8)[0]):
            associations = range(entry + 3, entry + 3 + data[entry + 2])
            if any(data[at] & 0x7F == depth_aux for at in associations):
                (drop,) = [at for at in associations if data[at] & 0x7F == 1 + kinds.index(b"irot")]
                data[drop] = 0  # index 0: no property
            entry = associations.stop
    path.write_bytes(bytes(data))
    return path


def dihedral(array):
    """The eight turns and flips of an (H, W, ...) array, by (quarter turns, flipped)."""
    return {(turns, flipped): np.rot90(np.flip(array, 1) if flipped else array, turns)
            for turns in range(4) for flipped in (False, True)}


@pytest.fixture(scope="module")
def pug_turns(pug_heic):
    """The pug photo's eight turns and flips (every 16th pixel), and its depth map."""
    turns = {name: turned[::16, ::16] for name, turned in dihedral(read_photo(pug_heic).pixels).items()}
    return turns, read_depth(pug_heic)


# What libheif does to the photo: irot turns anticlockwise, imir axis 0
# exchanges top and bottom (a half turn of the left-right flip), axis 1 left and right.
def assert_depth_turned_like_photo(path, pug_turns, photo_turn):
    """The photo at `path` is the pug turned by `photo_turn` (found from its pixels), and so is its depth map."""
    photo_turns, original_depth = pug_turns
    photo, depth = read_photo(path).pixels[::16, ::16], read_depth(path)
    errors = {name: np.abs(turned - photo).mean() if turned.shape == photo.shape else np.inf
              for name, turned in photo_turns.items()}
    assert min(errors, key=errors.get) == photo_turn and errors[photo_turn] < 0.01
    np.testing.assert_array_equal(depth, dihedral(original_depth)[photo_turn])


# What libheif does to the photo: irot turns anticlockwise, imir axis 0
# exchanges top and bottom (a half turn of the left-right flip), axis 1 left and right.
@pytest.mark.parametrize("kind, value, on_depth, photo_turn", [
    (b"irot", 1, False, (1, False)),
    (b"irot", 2, False, (2, False)),
    (b"imir", 0, False, (2, True)),
    (b"imir", 1, False, (0, True)),
    (b"irot", 1, True, (1, False)),
    (b"imir", 1, True, (0, True)),
])
def test_real_heic_depth_map_lines_up_with_the_turned_photo(pug_heic, pug_turns, tmp_path, kind, value, on_depth,
                                                            photo_turn):
    edited = pug_edited(pug_heic, tmp_path / "pug.heic", kind, value, on_depth)
    assert_depth_turned_like_photo(edited, pug_turns, photo_turn)


def child_boxes(data, start, end):
    """(type, start) of the boxes in data[start:end]."""
    children = []
    while start < end:
        children.append((bytes(data[start + 4:start + 8]), start))
        start += struct.unpack_from(">I", data, start)[0]
    return children


def pug_with_primary_properties(pug_heic, path, properties: list[bytes]):
    """The pug HEIC with `properties` added after the primary image's own; the depth item has none of them.

    Growing ipco and ipma grows iprp and meta, and moves everything stored
    after meta: its file offsets in iloc move by as much.
    """
    data = bytearray(pug_heic.read_bytes())
    meta = struct.unpack_from(">I", data, 0)[0]  # right after ftyp
    meta_end = meta + struct.unpack_from(">I", data, meta)[0]
    in_meta = dict(child_boxes(data, meta + 12, meta_end))
    iprp = in_meta[b"iprp"]
    in_iprp = dict(child_boxes(data, iprp + 8, iprp + struct.unpack_from(">I", data, iprp)[0]))
    ipco, ipma = in_iprp[b"ipco"], in_iprp[b"ipma"]
    ipco_end = ipco + struct.unpack_from(">I", data, ipco)[0]
    first_index = 1 + len(child_boxes(data, ipco + 8, ipco_end))
    primary = struct.unpack_from(">H", data, in_meta[b"pitm"] + 12)[0]
    assert data[ipma + 8:ipma + 12] == bytes(4)  # version 0, flags 0: 16-bit IDs, 7-bit indices
    entry = ipma + 16
    while struct.unpack_from(">H", data, entry)[0] != primary:
        entry += 3 + data[entry + 2]
    added = b"".join(properties)
    data[entry + 3 + data[entry + 2]:entry + 3 + data[entry + 2]] = bytes(
        0x80 | index for index in range(first_index, first_index + len(properties)))
    data[entry + 2] += len(properties)
    data[ipco_end:ipco_end] = added
    grown = len(added) + len(properties)
    for start, by in ((ipco, len(added)), (ipma + len(added), len(properties)), (iprp, grown), (meta, grown)):
        struct.pack_into(">I", data, start, struct.unpack_from(">I", data, start)[0] + by)
    iloc = in_meta[b"iloc"] + (grown if in_meta[b"iloc"] > iprp else 0)
    assert data[iloc + 8] == 1 and data[iloc + 12:iloc + 14] == b"\x44\x00"  # 32-bit offsets, no base offset
    at = iloc + 16
    for _ in range(struct.unpack_from(">H", data, iloc + 14)[0]):
        in_file = struct.unpack_from(">H", data, at + 2)[0] & 15 == 0  # construction method 0: file offsets
        extents, at = struct.unpack_from(">H", data, at + 6)[0], at + 8
        for _ in range(extents):
            offset = struct.unpack_from(">I", data, at)[0]
            if in_file and offset >= meta_end:
                struct.pack_into(">I", data, at, offset + grown)
            at += 8
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("properties, photo_turn", [
    ([irot(1), imir(1)], (3, True)),
    ([imir(1), irot(1)], (1, True)),
])
def test_real_heic_transforms_apply_in_association_order(pug_heic, pug_turns, tmp_path, properties, photo_turn):
    edited = pug_with_primary_properties(pug_heic, tmp_path / "pug.heic", properties)
    assert_depth_turned_like_photo(edited, pug_turns, photo_turn)


def test_real_heic_exif_orientation_turns_neither_photo_nor_depth(pug_heic, pug_turns, tmp_path):
    # In HEIF only irot/imir turn an image; pillow-heif resets the EXIF
    # orientation without applying it, so the depth map must not follow it.
    orientation = b"\x01\x12\x00\x03\x00\x00\x00\x01\x00"  # tag 0x0112, SHORT, count 1 (big-endian EXIF)
    data = pug_heic.read_bytes()
    assert data.count(orientation + b"\x01") == 1
    path = tmp_path / "pug.heic"
    path.write_bytes(data.replace(orientation + b"\x01", orientation + b"\x06"))
    photo_turns, depth = pug_turns
    np.testing.assert_array_equal(read_photo(path).pixels[::16, ::16], photo_turns[(0, False)])
    np.testing.assert_array_equal(read_depth(path), depth)
