"""The batch runner: planning which photos go where, and running them.

- :mod:`~bokehme.batch.plan`: inputs to tasks (source and destinations)
- :mod:`~bokehme.batch.runner`: the local engine (model in the main
  thread, decoding and encoding in threads), resume and summary
- :mod:`~bokehme.batch.progress`: the progress bar and log lines

Other engines (a cluster) run the same tasks through the same job.
"""

from .plan import IMAGE_EXTENSIONS, SIDE_OUTPUTS, OutputOverwritesInput, Task, plan_tasks, side_output
from .runner import Summary, describe_error, format_summary, pending, run_batch

__all__ = [
    "IMAGE_EXTENSIONS",
    "SIDE_OUTPUTS",
    "OutputOverwritesInput",
    "Summary",
    "Task",
    "describe_error",
    "format_summary",
    "pending",
    "plan_tasks",
    "run_batch",
    "side_output",
]
