#!/usr/bin/env python3
"""bokehme from a checkout: ``python bokehME.py photo.jpg`` is ``bokehme photo.jpg``."""

from bokehme.cli import main

if __name__ == "__main__":
    main(prog_name="bokehme")
