"""The training worker process: ``python -m app.training.worker FOLDER``.

It reads its job from FOLDER, runs the one training loop, and reports on stdout as JSON
lines (see ``protocol``). It stops at the next step when told ``{"cmd": "stop"}`` or when
its stdin closes — so a killed parent never leaves it training alone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import traceback
from pathlib import Path

import numpy as np

from app.training import protocol
from app.training.allocator import keep_freed_memory
from app.training.execution import LiveLabels, execute
from app.training.spec import RunSpec


def _say(**line: object) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _listen(folder: Path, stop: threading.Event, live: LiveLabels, gone: threading.Event) -> None:
    for raw in sys.stdin:
        try:
            message = json.loads(raw)
        except ValueError:
            print(f"ignored a line that is not JSON: {raw[:80]!r}", file=sys.stderr)
            continue
        if message.get("cmd") == "stop":
            stop.set()
        elif message.get("cmd") == "labels":
            path = folder / message["file"]
            live.update(np.load(path, allow_pickle=False), int(message["position"]))
            path.unlink(missing_ok=True)
    gone.set()  # stdin closed: the app is gone, and nobody else will remove the folder
    stop.set()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.training.worker FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[0])
    keep_freed_memory()  # a step's buffers are reused instead of page-faulted in again
    spec = protocol.read_job(folder)
    parent = os.getppid()
    stop, gone = threading.Event(), threading.Event()
    live = LiveLabels(spec.labels, spec.labels_position)
    threading.Thread(target=_listen, args=(folder, stop, live, gone), daemon=True).start()
    try:
        return _run(folder, spec, stop, live)
    finally:
        if gone.is_set() or os.getppid() != parent:  # the parent died: remove its folder
            shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, spec: RunSpec, stop: threading.Event, live: LiveLabels) -> int:
    _say(event="started", run_id=spec.run_id)
    epochs = 0
    try:
        for output in execute(spec, stop.is_set, live, lambda p: _say(event="progress", **p.as_dict())):
            _say(**protocol.write_epoch(folder, output))
            epochs += 1
            print(f"epoch {output.epoch}: loss {output.metrics['loss']:.4f}", file=sys.stderr)
    except Exception as exc:  # the parent records it as TrainingFailed
        traceback.print_exc()
        _say(event="failed", message=f"{type(exc).__name__}: {exc}")
        return 1
    _say(event="completed" if epochs == spec.config.epochs else "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
