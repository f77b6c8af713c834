"""`make bench`: every benchmark in turn, each in its own process; figures go to
docs/benchmarks.md. Pass --quick for a smoke run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "eventstore",
    "domain_replay",
    "train_speed",
    "predict_speed",
    "conv_speed",
    "label_efficiency",
    "honest_accuracy",
    "colour_accuracy",
    "active_learning",
    "responsiveness",
    "gui",
    "history",
    "live_sync",
    "dataset_import",
    "folder_decode",
    "soak",
]


def main() -> int:
    extra = sys.argv[1:]
    failed = []
    for name in ORDER:
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(script), *extra]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
