"""What every engine builds its jobs from: small, picklable, the same here and on a cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from ..job import InputSettings, OutputSettings, PhotoJob
from ..options import Options
from ..video.streams import EncoderSettings
from .sharing import OneAtATime

__all__ = ["JobRecipe", "Jobs"]


class Jobs(NamedTuple):
    """The jobs of a run: one for photos, one for clips (sharing the models)."""

    photos: PhotoJob
    clips: object


@dataclass(frozen=True)
class JobRecipe:
    """How to build the jobs of a run, models included.

    The local engine builds them once in its process, the Ray engine once in
    each actor: an image is processed the same way wherever it runs.

    Attributes
    ----------
    options : Options
    model : str or None
        As for :func:`bokehme.models.loading.load_segmenter`; None with a
        user's mask (``inputs.mask``), which needs no model.
    weights : str or None
    device : str
    inputs : InputSettings
    outputs : OutputSettings
    background : str or None
        The ``--background`` a new background comes from (a colour, a picture
        or a clip, see :func:`bokehme.video.backdrop.backdrop_from`); None
        keeps the lens blur.
    encoder : EncoderSettings
        How rendered clips are encoded.
    every : int
        Find the subject on every `every`-th frame of a clip.
    """

    options: Options = field(default_factory=Options)
    model: str | None = "auto"
    weights: str | None = None
    device: str = "auto"
    inputs: InputSettings = field(default_factory=InputSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    background: str | None = None
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    every: int = 1

    def build(self, warn: Callable | None = None, clip_processes: bool = False) -> Jobs:
        """Load the models once and make the jobs.

        Parameters
        ----------
        warn : callable, optional
            Told when ``auto`` falls back to another model (see
            :func:`~bokehme.models.loading.load_segmenter`), and when clips'
            frames render in threads instead of processes (see
            :class:`~bokehme.video.job.VideoJob`).
        clip_processes : bool
            Clips' frames are rendered in worker processes (see
            :class:`~bokehme.video.job.VideoJob`): the local engine's choice.

        Raises
        ------
        bokehme.models.SegmentationError
            If the model cannot be loaded as asked.
        bokehme.video.backdrop.BackdropError
            If the background cannot be read.
        """
        from ..models.loading import load_segmenter
        from ..video.backdrop import backdrop_from
        from ..video.job import VideoJob

        segmenter = None
        if self.model is not None:
            segmenter = load_segmenter(self.model, self.weights, self.device, warn=warn)
        faces = None
        if self.options.pii:
            from ..models.faces import FaceDetector

            faces = FaceDetector()
        backdrop = None if self.background is None else backdrop_from(self.background)
        # The local engine renders photos side by side (see PhotoJob.share).
        def shared(model):
            return None if model is None else OneAtATime(model)

        photos = PhotoJob(self.options, shared(segmenter), shared(faces), inputs=self.inputs, outputs=self.outputs,
                          background=shared(backdrop))
        # A clip's own background plays along from its first frame: a backdrop of its own.
        clip_backdrop = None if self.background is None else backdrop_from(self.background)
        clips = VideoJob(self.options, segmenter, self.encoder, every=self.every, background=clip_backdrop,
                         processes=clip_processes, warn=warn)
        return Jobs(photos, clips)
