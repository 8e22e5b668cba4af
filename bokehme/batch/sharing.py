"""Models shared by the photos a batch renders at once."""

import functools
import threading

__all__ = ["OneAtATime"]


class OneAtATime:
    """A model (or any object) whose methods run for one caller at a time.

    The local engine renders two photos at once in threads; everything but
    the models is pure array code, but MediaPipe's graphs and a clip read as
    a backdrop keep state between calls, so every call into them takes a
    lock.  Attributes that are not callable are passed through as they are.

    Parameters
    ----------
    model : object
    """

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()

    def __getattr__(self, name):
        value = getattr(self.model, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def one_at_a_time(*args, **kwargs):
            with self.lock:
                return value(*args, **kwargs)

        return one_at_a_time

    def __call__(self, *args, **kwargs):
        with self.lock:
            return self.model(*args, **kwargs)
