"""Subject class names: read from what the user wrote, checked against what a model knows.

Plain names, no arrays: the command line checks them before any model or
array library is loaded; :mod:`bokehme.imaging.subject` turns them into a
subject probability.
"""

__all__ = ["AUTO", "UnknownClassError", "subject_classes", "check_classes"]

#: The subject name that asks for the most salient object instead of classes.
AUTO = "auto"


class UnknownClassError(ValueError):
    """A subject names classes a model does not know.

    Attributes
    ----------
    unknown : tuple of str
        The names not among the labels.
    labels : tuple of str
        What the model knows, ``labels[0]`` being ``"background"``.
    """

    def __init__(self, unknown, labels):
        self.unknown, self.labels = tuple(unknown), tuple(labels)
        known = ", ".join(label for label in self.labels if label != "background")
        super().__init__(f"cannot find {', '.join(self.unknown)}; the model knows: {known}")


def subject_classes(subject):
    """The class names of a subject, normalized.

    Parameters
    ----------
    subject : str or sequence of str
        Class names, as a sequence or one comma-separated string
        (``"person,dog"``), or ``"auto"``.

    Returns
    -------
    tuple of str
        Lower-case names without blanks, in the order given; ``("auto",)``
        for the most salient object.

    Raises
    ------
    ValueError
        If no name is given, or ``"auto"`` is mixed with class names.
    """
    if isinstance(subject, str):
        subject = subject.split(",")
    names = tuple(name.strip().lower() for name in subject if name.strip())
    if not names:
        raise ValueError("no subject class given")
    if AUTO in names and names != (AUTO,):
        raise ValueError(f"{AUTO!r} stands alone, not among class names")
    return names


def check_classes(subject, labels):
    """The subject's class names, checked against a model's labels.

    Parameters
    ----------
    subject : str or sequence of str
        See :func:`subject_classes`.
    labels : tuple of str
        The model's class names, background first.

    Returns
    -------
    tuple of str

    Raises
    ------
    UnknownClassError
        If a name is not among `labels` (or is the background).
    """
    names = subject_classes(subject)
    if names == (AUTO,):
        return names
    unknown = [name for name in names if name not in labels or name == "background"]
    if unknown:
        raise UnknownClassError(unknown, labels)
    return names
