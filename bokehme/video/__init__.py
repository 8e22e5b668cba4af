"""Video files: the photo rendering applied to every frame of a clip.

- :mod:`~bokehme.video.clips`: which files are clips, what they hold, their errors
- :mod:`~bokehme.video.streams`: decoding and encoding with PyAV, overlapped in threads
- :mod:`~bokehme.video.renderer`: frames rendered as photos, steadied from frame to frame
- :mod:`~bokehme.video.workers`: a frame's matte and rendering, in threads or worker processes
- :mod:`~bokehme.video.worker_processes`: the server the worker processes start from
- :mod:`~bokehme.video.backdrop`: new backgrounds (colour, picture, looping clip)
- :mod:`~bokehme.video.job`: one clip in, one clip out, atomically
"""
