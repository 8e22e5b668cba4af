"""File I/O by job: reading photos, their metadata and depth maps, and writing results.

- :mod:`~bokehme.io.photo`: the decoded :class:`Photo` and the errors
- :mod:`~bokehme.io.read`: image files to the 8- or 16-bit samples they hold, read once
- :mod:`~bokehme.io.metadata`: EXIF and XMP kept upright and clean
- :mod:`~bokehme.io.formats`: which format a file is and is written as
- :mod:`~bokehme.io.write`: results, masks, cutouts and reports
- :mod:`~bokehme.io.atomic`: atomic replacement of files
- :mod:`~bokehme.io.depth_maps`, :mod:`~bokehme.io.heif_boxes`: phone depth maps
"""

from .depth_maps import read_depth
from .formats import output_extension, output_format
from .metadata import metadata_fields
from .photo import DEFAULT_MAX_PIXELS, ImageTooLarge, Photo, PhotoError
from .read import read_depth_file, read_mask, read_photo
from .write import file_samples, write_cutout, write_json, write_mask, write_photo

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageTooLarge",
    "file_samples",
    "Photo",
    "PhotoError",
    "metadata_fields",
    "output_extension",
    "output_format",
    "read_depth",
    "read_depth_file",
    "read_mask",
    "read_photo",
    "write_cutout",
    "write_json",
    "write_mask",
    "write_photo",
]
