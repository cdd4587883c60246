"""Wall time of `score plugins --json` and `score --help` with every installed plugin (target: < 0.5 s).

    python bench/cli_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    score = shutil.which("score", path=str(Path(sys.executable).parent)) or "score"
    baseline = [sys.executable, "-c", "pass"]
    for label, command in (("python -c pass", baseline), ("score plugins --json", [score, "plugins", "--json"]),
                           ("score --help", [score, "--help"])):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        print(f"{label:>22}: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s")


if __name__ == "__main__":
    main()
