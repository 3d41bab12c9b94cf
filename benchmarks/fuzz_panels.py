"""The generated-panel tests of tests/test_short_panels.py at their long profile: many more random valid panels
(lengths, counts, numbers of series, zeros, names) through the real CLI than CI runs.

Run: python benchmarks/fuzz_panels.py [EXAMPLES]   (default 60 per test; CI runs 4)
Prints pytest's result line and the wall and CPU time.
"""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from timing import conditions

ROOT = Path(__file__).resolve().parents[1]


def main(examples: int = 60) -> None:
    print(conditions())
    env = {**os.environ, "FORECAST_HYPOTHESIS_PROFILE": "long", "FORECAST_HYPOTHESIS_EXAMPLES": str(examples)}
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_short_panels.py", "-k", "generated"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr)
    print(f"{examples} examples per generated-panel test: wall {wall:.1f} s, CPU {cpu:.1f} s (all processes)")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
