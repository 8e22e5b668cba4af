"""The live camera: real-time bokeh or a new background, into a virtual webcam.

- :mod:`~bokehme.live.sources`: a camera, stream or file, read in a thread (a live
  source always hands over its newest frame)
- :mod:`~bokehme.live.sinks`: a virtual webcam, a preview window, a recording
- :mod:`~bokehme.live.session`: capture, rendering and output overlapped, with
  frames per second and milliseconds per stage

Frames are rendered by :class:`bokehme.video.renderer.FrameRenderer`, as clips and photos are.
"""
