"""This checkout's package first on ``sys.path``: a benchmark measures the code beside it.

Imported by the benchmarks before ``bokehme``; without it, a script run
from another checkout (a worktree) would import whatever package the
environment has installed.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
