"""The batch runner: planning which photos go where, and running them.

- :mod:`~bokehme.batch.plan`: inputs to tasks (source and destinations)
- :mod:`~bokehme.batch.runner`: the local engine (model in the main
  thread, decoding and encoding in threads), resume and summary
- :mod:`~bokehme.batch.progress`: the progress bar and log lines

Other engines (a cluster) run the same tasks through the same job.
"""

from .plan import (IMAGE_EXTENSIONS, SIDE_OUTPUTS, OutputFolderHoldsOriginals, OutputOverwritesInput, Plan, Task,
                   is_photo, plan_tasks, side_output)
from .progress import printable
from .runner import (Pending, Summary, describe_error, format_summary, pending, remove_stale_temporaries,
                     run_batch)

__all__ = [
    "IMAGE_EXTENSIONS",
    "SIDE_OUTPUTS",
    "OutputFolderHoldsOriginals",
    "OutputOverwritesInput",
    "Pending",
    "Plan",
    "Summary",
    "Task",
    "describe_error",
    "format_summary",
    "is_photo",
    "pending",
    "plan_tasks",
    "printable",
    "remove_stale_temporaries",
    "run_batch",
    "side_output",
]
