"""Where the per-series work runs: local processes (the default), or a Dask cluster.

Inside :func:`fitting_on`, the per-series fits and the global model's cut-offs go to the cluster's workers as
Dask tasks (:func:`tasks`); the results (fitted models and forecasts) come back to this process, which writes
the files and the MLflow records. Random draws (sample paths) are made here from seeds, so a cluster gives the
same numbers as local processes.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterable, Iterator

from forecast.errors import ForecastError
from forecast.words import plural

#: a scheduler address to use when --scheduler is not given (tcp://HOST:PORT)
SCHEDULER_ENV = "FORECAST_SCHEDULER"
#: how long to wait for a scheduler to answer
CONNECT_TIMEOUT = "5s"


class ClusterError(ForecastError):
    """No Dask cluster could be reached or started."""


def on_cluster() -> bool:
    """Whether joblib's tasks currently go to a Dask cluster."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ == "DaskDistributedBackend"


def cores() -> int:
    """The connected cluster's worker threads: how many tasks it runs at once."""
    from dask.distributed import get_client

    return max(1, sum(get_client().nthreads().values()))


@contextlib.contextmanager
def connected(scheduler: str | None = None, workers: int | None = None) -> Iterator[str | None]:
    """Inside, a Dask client of the cluster at ``scheduler`` (else $FORECAST_SCHEDULER), or of a local cluster of
    ``workers`` processes started for the purpose; with neither, nothing. Yields a line saying where, or None.
    Work goes there only inside :func:`fitting_on`."""
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if not scheduler and not workers:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("Dask is not installed: pip install 'dask[distributed]' (or the package's [cluster] "
                           "extra)") from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT))
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc})") from None
            where = f"Dask cluster at {scheduler}"
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None))
            client = stack.enter_context(Client(cluster))
            where = f"a local Dask cluster of {plural(workers, 'worker')}"
        yield f"{where} ({len(client.scheduler_info()['workers'])} workers connected)"


@contextlib.contextmanager
def fitting_on(where: str | None) -> Iterator[None]:
    """Inside, the fits go to the connected Dask cluster (when ``where`` says there is one): joblib's backend is
    Dask, which :func:`on_cluster` reads, and any joblib work goes there too. Files are written by this process."""
    if where is None:
        yield
        return
    from joblib import parallel_config

    with parallel_config(backend="dask"):
        yield


def tasks(func: Callable, calls: Iterable[tuple[tuple, dict]], ordered: bool = True) -> Iterator:
    """``func(*args, **kwargs)`` for each ``(args, kwargs)``, each a task on the connected cluster's workers; the
    results in the calls' order, or as they finish. Through the Dask client itself: joblib's Dask backend runs
    every task in this process when the cluster has a single worker thread."""
    from dask.distributed import as_completed, get_client

    client = get_client()
    futures = [client.submit(func, *args, pure=False, **kwargs) for args, kwargs in calls]
    for future in futures if ordered else as_completed(futures):
        yield future.result()
        future.release()
