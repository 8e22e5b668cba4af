"""bokehme: lens-quality background blur for ordinary photos."""

__version__ = "0.1.0"
