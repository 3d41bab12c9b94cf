"""BLAS and OpenMP held to one thread inside a block (threadpoolctl), for work that runs beside other processes.

Fits run one per process, so that their libraries' own threads would only compete for the same cores; and
OpenMP's threads, which wait for each other by spinning, are slowest of all when other processes share the cores:
a crime type's predictions from the global model took 0.15 s on OpenMP's two threads with both cores busy, 0.06 s
on one (`python benchmarks/bench_predict.py --busy`)."""

from __future__ import annotations

import sys


class OneThread:
    """One thread for BLAS and OpenMP inside ``with limiter.limit():``. threadpoolctl finds the libraries by reading
    the process's memory map, 2 ms a call in a worker that has imported the model libraries: its controller is made
    once, and again only after modules have been imported since (a library loads with its module)."""

    def __init__(self):
        self.controller, self.modules = None, -1

    def limit(self):
        from threadpoolctl import ThreadpoolController

        if self.controller is None or len(sys.modules) != self.modules:
            self.controller, self.modules = ThreadpoolController(), len(sys.modules)
        return self.controller.limit(limits=1)


#: this process's limiter
ONE_THREAD = OneThread()


def one_thread():
    """A context in which BLAS and OpenMP use one thread; the caller's limits come back after it."""
    return ONE_THREAD.limit()
