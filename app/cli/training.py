"""``ledgerlab train``: a run from the command line, with any of the three runners.

``inline`` iterates the training loop in this process; ``thread`` and ``process`` run
the window's own runners under a Qt event loop without a window. Ctrl+C stops the run
at the next step and records ``TrainingStopped``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from app.cli.output import say_or_drop
from app.project.errors import ProjectError
from app.quality.accuracy import ProspectiveAccuracy, run_accuracy
from app.training.lease import TrainingLease
from app.training.recorder import RunRecorder, recover_interrupted

if TYPE_CHECKING:
    from app.project.bootstrap import Application
    from app.project.live import Project
    from domain.accuracy import AccuracyEstimate

RUNNER_CHOICES = ("inline", "thread", "process")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--epochs", type=int, required=True, help="how many epochs to train (1..100000)")
    p.add_argument("--seed", type=int, help="random seed (default: the configured one)")
    p.add_argument("--lr", type=float, dest="learning_rate", help="learning rate")
    p.add_argument("--latent", type=int, dest="latent_size", help="size of the latent space z")
    p.add_argument("--batch", type=int, dest="batch_size", help="unlabeled samples per step")
    p.add_argument(
        "--hidden", dest="hidden_sizes", help="encoder layer sizes (the decoder mirrors them), e.g. 256,128"
    )
    p.add_argument(
        "--classifier-hidden", dest="classifier_hidden_sizes", help="classifier layer sizes, e.g. 512,256"
    )
    p.add_argument(
        "--holdout",
        type=float,
        dest="holdout_share",
        metavar="SHARE",
        help="share of the labels kept out of training to measure the accuracy honestly every "
        "epoch, 0..0.5 (0 = off; default 0.25, used from --holdout-min-labels labels on)",
    )
    p.add_argument(
        "--holdout-min-labels",
        type=int,
        dest="holdout_min_labels",
        metavar="N",
        help="hold labels out only in a run that starts with at least N labels (default 100)",
    )
    p.add_argument(
        "--epoch-samples",
        type=int,
        dest="epoch_samples",
        metavar="N",
        help="samples one epoch visits, drawn at random each epoch (0 = all, the default): "
        "a shorter epoch at a million samples",
    )
    p.add_argument(
        "--model",
        choices=("auto", "mlp", "conv"),
        help="the networks: conv (convolutional, for colour or larger images), mlp (dense, "
        "for small grey images) or auto (default: conv for colour images, mlp for grey)",
    )
    p.add_argument(
        "--training-size",
        type=int,
        dest="training_size",
        metavar="N",
        help="longest side in pixels the images are trained at, shrunk keeping their aspect "
        "(default 32; 0 = their own size)",
    )
    p.add_argument(
        "--augment-colour",
        dest="augment_colour",
        action=argparse.BooleanOptionalAction,
        help="show the classifier its colour images with the channels permuted and inverted, "
        "for sets where colour does not tell the classes apart (the form's Colour augmentation)",
    )
    p.add_argument(
        "--continue",
        dest="continue_run",
        action="store_true",
        help="continue the latest run from its last checkpoint (epochs count on)",
    )
    p.add_argument(
        "--runner",
        choices=RUNNER_CHOICES,
        default="inline",
        help="where the loop runs: in this process (inline, default), a QThread, or a worker process",
    )
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="cache folder: compiled training programs are kept in DIR-programs "
        "(default: the user cache folder, or LEDGERLAB_CACHE_DIR)",
    )


def config_from(args: argparse.Namespace, project: Project) -> dict[str, Any]:
    """The project's last configuration (or the defaults), overridden by the flags given."""
    from domain.learning.config import TrainingConfig

    config = dict(project.state.training.config or TrainingConfig().to_dict())
    for name in (
        "learning_rate",
        "latent_size",
        "batch_size",
        "seed",
        "holdout_share",
        "holdout_min_labels",
        "epoch_samples",
        "model",
        "training_size",
        "augment_colour",
    ):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    for name, flag in (("hidden_sizes", "--hidden"), ("classifier_hidden_sizes", "--classifier-hidden")):
        text = getattr(args, name)
        if text:
            try:
                config[name] = [int(v) for v in text.split(",")]
            except ValueError:
                raise ProjectError(f"{flag} takes whole numbers separated by commas, not {text!r}") from None
    return config


def cmd_train(args: argparse.Namespace, app: Application) -> int:
    args.cache = args.cache or app.settings.compilation_cache
    with app.projects.open(args.path) as project:
        config = config_from(args, project)
        if args.runner == "inline":
            return _train_inline(args, project, config)
        return _train_with_runner(args, project, config)


def _progress_line(
    run_id: str, epoch: int, last: int, metrics: dict[str, Any], estimate: AccuracyEstimate | None = None
) -> str:
    """One epoch: the honest estimate (held-out when the run keeps labels out of
    training, else labels compared with this run's predictions), and training accuracy
    (on the labels it trained on), named so."""
    loss, acc, seconds = metrics.get("loss"), metrics.get("accuracy"), metrics.get("seconds")
    parts = [f"run {run_id}", f"epoch {epoch}/{last}", "loss " + ("—" if loss is None else f"{loss:.3f}")]
    if estimate is not None:
        parts.append(f"accuracy {estimate.text()}")
    parts.append("training acc on its labels " + ("—" if acc is None else f"{acc:.1%}"))
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    return "  ".join(parts)


class _ProgressLines:
    """``_progress_line`` with the run's held-out accuracy of the epoch when it keeps
    labels out, else its prospective accuracy, folded from the log as it grows (labels
    given, in the window or another process, while this run's predictions were in force)."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._accuracy = ProspectiveAccuracy(project.get_blob)

    def __call__(self, run_id: str, epoch: int, last: int, metrics: dict[str, Any]) -> str:
        self._accuracy.catch_up(self._project.events(after=self._accuracy.position))
        return _progress_line(run_id, epoch, last, metrics, run_accuracy(self._accuracy, run_id, metrics))


# A reader that went away (``train | head``) never fails the run: the rest of the
# output is dropped and training goes on.
_say = say_or_drop


def _train_inline(args: argparse.Namespace, project: Project, config: dict[str, Any]) -> int:
    from app.training.allocator import keep_freed_memory
    from app.training.execution import execute

    keep_freed_memory()  # this process trains: the process-wide setting of a training process

    lease = TrainingLease(project.address)
    if not lease.acquire():
        raise ProjectError("another window or process is training this project; stop it first")
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # stop at the next step
    try:
        recover_interrupted(project, lease)
        recorder = RunRecorder.prepare(
            project,
            config,
            epochs=args.epochs,
            runner="inline",
            continue_run=args.continue_run,
            compilation_cache=args.cache,
        )
        last = recorder.spec.epoch_offset + args.epochs
        lines = _ProgressLines(project)
        _say(
            f"run {recorder.run_id}: {args.epochs} epochs on {project.info.sample_count:,} samples, "
            f"{int((recorder.spec.labels >= 0).sum()):,} labeled"
        )
        diverged = None
        try:
            epochs = execute(recorder.spec, stop.is_set)
            for output in epochs:
                diverged = recorder.divergence(output)
                if diverged is not None:
                    epochs.close()  # the loop ends here; the diverged epoch is not recorded
                    break
                recorder.epoch(output)
                _say(lines(recorder.run_id, output.epoch, last, output.metrics))
        except Exception as exc:
            message = recorder.failure_message(f"{type(exc).__name__}: {exc}")
            recorder.failed(message)
            raise ProjectError(f"training failed: {message} (recorded as TrainingFailed)") from exc
        if diverged is not None:
            recorder.failed(diverged)
            raise ProjectError(f"training failed: {diverged} (recorded as TrainingFailed)")
        if stop.is_set() and recorder.epochs_recorded < args.epochs:
            recorder.stopped("interrupted with Ctrl+C")
            _say(f"run {recorder.run_id} stopped after {recorder.epochs_recorded} epochs", err=True)
            return 130
        recorder.completed()
        _say(f"run {recorder.run_id} completed")
        return 0
    finally:
        signal.signal(signal.SIGINT, previous)
        lease.release()


def _train_with_runner(args: argparse.Namespace, project: Project, config: dict[str, Any]) -> int:
    from app.ui.console_training import (
        train_in_event_loop,  # the Qt runners need Qt's loop
    )

    return train_in_event_loop(
        project,
        config,
        epochs=args.epochs,
        runner=args.runner,
        continue_run=args.continue_run,
        compilation_cache=args.cache,
        progress_line=_ProgressLines(project),
        say=say_or_drop,
    )
