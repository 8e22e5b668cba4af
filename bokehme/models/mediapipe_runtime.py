"""MediaPipe's graphs, started without their native log lines in the user's terminal, run lean."""

import contextlib
import os
import sys

__all__ = ["native_stderr_silenced", "native_output_silenced", "ImageGraph"]


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence the C++ log lines that MediaPipe writes straight to file descriptor 2.

    Also asks glog, through its environment variable, for warnings and
    above only, for graphs started later.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def native_output_silenced():
    """Silence what native code writes straight to file descriptors 1 and 2 (Ray's raylet and core)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        with native_stderr_silenced():
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class ImageGraph:
    """One of MediaPipe's bundled graphs, run on one image at a time: image in, one image out.

    What MediaPipe's Python solutions do, less their per-call bookkeeping
    (a new named tuple type made for every result): the same graph from the
    wheel, the same packets, so the same output bit for bit.

    Parameters
    ----------
    graph : str
        Path of the graph's ``.binarypb`` inside the mediapipe package.
    side_inputs : dict of str to int
        The graph's integer side packets (a model's choice).
    output : str
        The output stream, an image frame.
    """

    def __init__(self, graph, side_inputs, output):
        import mediapipe.python as mp
        from mediapipe.python import packet_creator

        # The folder that holds the mediapipe package: graphs name their files from there.
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__))))
        mp.resource_util.set_resource_dir(root)
        self._graph = mp.CalculatorGraph(binary_graph_path=os.path.join(root, graph))
        self._output = None
        self._timestamp = 0

        def keep(stream, packet):
            self._output = packet

        self._graph.observe_output_stream(output, keep, True)
        self._graph.start_run({name: packet_creator.create_int(value) for name, value in side_inputs.items()})

    def process(self, pixels):
        """The graph's output for an (h, w, 3) uint8 RGB image: a read-only view, valid until the next call."""
        import mediapipe.python as mp
        from mediapipe.python import packet_creator, packet_getter

        self._output = None
        # A video's timestamps, 30 frames a second apart, as the solutions simulate them.
        self._timestamp += 33333
        frame = packet_creator.create_image_frame(pixels, image_format=mp.ImageFormat.SRGB)
        self._graph.add_packet_to_input_stream(stream="image", packet=frame.at(self._timestamp))
        self._graph.wait_until_idle()
        if self._output is None or self._output.is_empty():
            return None
        return packet_getter.get_image_frame(self._output).numpy_view()
