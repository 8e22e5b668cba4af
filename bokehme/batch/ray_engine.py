"""The batch on a Ray cluster: the same tasks and the same job, run by a pool of Ray actors.

The driver plans the run as the local engine does and hands Ray Data one
row per task; each actor builds the jobs once (loading the models) from a
:class:`~bokehme.batch.recipe.JobRecipe` and runs
:meth:`bokehme.job.PhotoJob.run` (or the clip job's) on its rows, so an
image is processed exactly as on this machine: the engine decides only
where.  Ray restarts an actor that dies and retries its rows; every output is
written atomically by the worker, so a death leaves no partial file and a
rerun finishes only what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Callable, Sequence, TextIO

from ..job import Target
from ..models.mediapipe_runtime import native_output_silenced
from ..process import worker_environment
from .plan import Task
from .progress import Reporter
from .recipe import JobRecipe
from .runner import Summary, describe_error

__all__ = ["EngineError", "connect", "run_batch_ray"]


class EngineError(Exception):
    """Ray cannot be used as asked: not installed, or no cluster at the address."""


def _worker_class(recipe: JobRecipe, describe):
    """A Ray Data actor class with `recipe` built in (not passed as constructor arguments,
    which Ray would keep in its object store for restarts)."""

    class PhotoWorker:
        def __init__(self):
            self.jobs = recipe.build()

        def __call__(self, rows):
            results = {"source": [], "failed": [], "record": []}
            for source, kind, destination, mask, cutout in zip(rows["source"], rows["kind"], rows["destination"],
                                                               rows["mask"], rows["cutout"]):
                target = Target(Path(destination), Path(mask) if mask else None, Path(cutout) if cutout else None)
                task = Task(Path(source), target, kind)
                try:
                    job = self.jobs.clips if kind == "clip" else self.jobs.photos
                    record = job.run(task.source, target)
                    failed = ""
                except Exception as error:  # one bad photo must not stop the batch
                    record, failed = None, describe(task, error) or "failed"
                results["source"].append(source)
                results["failed"].append(failed)
                results["record"].append(json.dumps(record))
            return results

    return PhotoWorker


def _reachable(address, timeout=5.0):
    """Whether something answers at a Ray address (``host:port`` or ``ray://host:port``)."""
    if address == "auto":
        return True  # Ray finds the local cluster itself
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def connect(address, cpus):
    """Ray, connected to the cluster at `address` or to a local one of `cpus` CPUs started for this batch.

    Raises
    ------
    EngineError
        Ray missing, or no cluster at `address`.
    """
    try:
        import ray
    except ImportError:
        raise EngineError("Ray is not installed: pip install 'bokehme[ray]'") from None
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS")
    # Ray would retry a dead address for minutes: a quick look first.
    if address and not _reachable(address):
        raise EngineError(f"no Ray cluster answers at {address}")
    logging.getLogger("ray").setLevel(logging.ERROR)
    # The workers are processes of their own: they start with the settings
    # this process was given (the local engine's threads share them).
    settings = dict(configure_logging=False, log_to_driver=False,
                    runtime_env={"env_vars": worker_environment()})
    try:
        if address:
            ray.init(address=address, **settings)
        else:
            ray.init(num_cpus=cpus, include_dashboard=False, **settings)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise EngineError(f"cannot reach a Ray cluster at {address}: {' '.join(str(error).split())}") from None
    return ray


def run_batch_ray(
    tasks: Sequence[Task],
    recipe: JobRecipe,
    *,
    address: str | None = None,
    cpus: int = 2,
    workers: int | None = None,
    progress: bool = True,
    quiet: bool = False,
    log: TextIO | None = None,
    describe: Callable[[Task, BaseException], str] = describe_error,
) -> Summary:
    """Process tasks in a pool of Ray actors; the counterpart of :func:`bokehme.batch.runner.run_batch`.

    Parameters
    ----------
    tasks : sequence of Task
        The tasks to do (see :func:`bokehme.batch.runner.pending`).
    recipe : bokehme.batch.recipe.JobRecipe
        What each actor builds once.
    address : str, optional
        A cluster to connect to; else ``RAY_ADDRESS``; else a local Ray is
        started with `cpus` CPUs.
    cpus : int
        CPUs of a local Ray.
    workers : int, optional
        Actors in the pool; by default one per CPU of the cluster (each
        actor asks for one CPU, and one GPU where the cluster has them).
    progress, quiet, log, describe
        As for :func:`~bokehme.batch.runner.run_batch`; `describe` runs in
        the workers.

    Returns
    -------
    Summary

    Raises
    ------
    EngineError
        Ray missing, or no cluster at `address`.
    """
    summary = Summary()
    if not tasks:
        return summary
    # Ray's core and raylet write notices of their own (its actors' restart
    # policy, a worker that died and is replaced) straight to file descriptors
    # 1 and 2: they go, and the batch's lines go to a copy of 2.
    if log is None:
        log = os.fdopen(os.dup(2), "w", buffering=1)
    with native_output_silenced():
        ray = connect(address, cpus)
        _run(ray, tasks, recipe, workers, summary, Reporter(len(tasks), log, progress=progress and not quiet,
                                                             quiet=quiet), describe)
    return summary


def _run(ray, tasks, recipe, workers, summary, reporter, describe):
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    resources = ray.cluster_resources()
    size = workers or max(1, int(resources.get("CPU", 1)))
    gpus = 1 if resources.get("GPU", 0) >= size else 0
    rows = [{"source": str(task.source), "kind": task.kind, "destination": str(task.target.destination),
             "mask": str(task.target.mask or ""), "cutout": str(task.target.cutout or "")} for task in tasks]
    by_source = {str(task.source): task for task in tasks}
    results = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        _worker_class(recipe, describe), batch_size=1, compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=1, num_gpus=gpus)
    try:
        for row in results.iter_rows():
            task = by_source[row["source"]]
            if row["failed"]:
                summary.failed.append((task.source, row["failed"]))
                reporter.failed(task.source, row["failed"])
                continue
            summary.processed += 1
            record = json.loads(row["record"])
            if record is not None:
                summary.records[task.source] = record
            reporter.done(task.source, task.destination)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        reporter.close()
