"""Pure array code: the optics, the matte and the scrub, on float32 arrays.

Nothing in this package reads files, runs a model or knows the command
line; every function takes pixels (NumPy arrays or torch tensors) and
returns pixels.  One operator or topic per module:

- :mod:`~bokehme.imaging.samples`: 8- and 16-bit samples to floats in [0, 1] and back
- :mod:`~bokehme.imaging.colour`: sRGB transfer curves, highlight boost
- :mod:`~bokehme.imaging.resample`: block sums and means, bilinear resizing
- :mod:`~bokehme.imaging.aperture`: aperture kernels (disc, polygon)
- :mod:`~bokehme.imaging.fill`: push-pull filling of normalized convolution
- :mod:`~bokehme.imaging.lens`: the lens blur in linear light
- :mod:`~bokehme.imaging.guided_filter`: the (fast) guided filter
- :mod:`~bokehme.imaging.matte`: a segmenter's probability made an alpha
- :mod:`~bokehme.imaging.plain_ground`: the subject grown over plain ground it was missed on
- :mod:`~bokehme.imaging.half_sharp`: doubt settled where no outline can be
- :mod:`~bokehme.imaging.foreground`: foreground colours at soft edges
- :mod:`~bokehme.imaging.composite`: the two-plane bokeh render
- :mod:`~bokehme.imaging.depth_map`: depth maps, focus, circle of confusion
- :mod:`~bokehme.imaging.depth_render`: the layered depth-of-field render
- :mod:`~bokehme.imaging.subject`: choosing the subject from class probabilities
- :mod:`~bokehme.imaging.scrub`: the PII scrub of the background
- :mod:`~bokehme.imaging.threads`: the threads kept for work handed to a second thread, the usable cores
"""
