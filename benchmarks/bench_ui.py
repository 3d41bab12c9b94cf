"""What `forecast ui` costs to start: the MLflow UI as it starts it, and with MLflow's job execution turned back on.

Run: python benchmarks/bench_ui.py [SECONDS]
     (SECONDS default 20: how long after the start the processes are counted)
Each start is a fresh `python -m forecast ui` on a new, empty store and a free port. Prints the seconds until the
server answers /health, then, SECONDS after the start, the processes it started, their memory (resident set,
summed) and their CPU time so far, read from /proc; then stops it with SIGTERM and checks that nothing is left.
Linux only (/proc).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from timing import conditions, in_reference

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def usage(pids: list[int]) -> tuple[int, float, float]:
    """Processes still running, their resident memory in GB and their CPU seconds (user + system) so far."""
    alive, rss, cpu = 0, 0, 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        alive += 1
        cpu += (int(fields[11]) + int(fields[12])) / TICKS
        rss += int(fields[21]) * PAGE
    return alive, rss / 1e9, cpu


def start(label: str, env: dict, settle: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'mlruns' / 'mlflow.db'}"
        port = free_port()
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "forecast", "ui", "--tracking-uri", store, "--port",
                                    str(port)], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        answered = None
        try:
            while time.perf_counter() - began < settle:
                if answered is None:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                            answered = time.perf_counter() - began
                    except OSError:
                        pass
                if process.poll() is not None:
                    sys.exit(f"{label}: forecast ui exited with {process.returncode}")
                time.sleep(0.1)
            pids = descendants(process.pid)
            alive, gb, cpu = usage(pids)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        time.sleep(2)
        left = usage(pids)[0]
        said = f"{answered:.1f} s" if answered is not None else f"not within {settle:.0f} s"
        print(f"{label}: answered after {said}; at {settle:.0f} s: {alive} processes, {gb:.2f} GB resident, CPU "
              f"{cpu:.1f} s ({in_reference(cpu)}); after SIGTERM: {left} left")


def main() -> None:
    settle = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    print(conditions())
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"}
    start("forecast ui (MLflow's job execution off, the default)", base, settle)
    start("forecast ui with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true",
          {**base, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}, settle)


if __name__ == "__main__":
    main()
