"""The project commands: ``new``, ``label`` and its kin, ``info``, ``replay``, ``export``,
``import-events``, ``demo`` and ``gui``. ``main`` registers them; the other groups live in
``history``, ``training``, ``quality`` and ``team``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.output import PROG, fail, say
from app.cli.reports import (
    classes_text,
    describe_event,
    prospective_line,
    run_line,
    shape_text,
    summary,
)

if TYPE_CHECKING:
    from app.project.bootstrap import Application
    from app.project.live import Project
    from domain.events import Event


# --- handlers ------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace, app: Application) -> int:
    from app.project.decode_workers import DecodeWorkers
    from domain.dataset import load_mnist, open_dataset
    from domain.images import Dataset, DatasetStream

    classes = None
    if args.classes is not None:
        classes = tuple(name.strip() for name in args.classes.split(","))
    # A dataset file or folder is read batch by batch (bounded memory), never whole; a
    # folder's images are decoded by worker processes, which end with this block.
    with DecodeWorkers() as workers:
        bar = _ProgressBar() if sys.stderr.isatty() else None
        try:
            dataset: Dataset | DatasetStream
            if not args.dataset:
                dataset = load_mnist(app.settings.resources_dir)
            elif Path(args.dataset).expanduser().is_dir():
                from domain.image_folder import stream_folder  # its progress: per class folder

                workers.start()  # they boot while the folder is listed
                decoded = None if bar is None else bar.decoded
                dataset = stream_folder(Path(args.dataset), workers, progress=decoded)
            else:
                dataset = open_dataset(args.dataset, workers)
            if not isinstance(dataset, DatasetStream):
                bar = None
            elif bar is not None:
                bar.folders = dataset.class_names
            project = app.projects.create(
                args.path, dataset, name=args.name, class_names=classes, progress=bar
            )
        except KeyboardInterrupt:
            if bar is not None:
                bar.end()
            return fail(f"{PROG}: new: interrupted; nothing was created", 130)
    if bar is not None:
        bar.end()
    with project:
        info = project.info
        say(f"created {project.path}: {info.project_name!r}, {shape_text(info.shape)} from {info.source}")
        say(f"classes: {classes_text(info.class_names)}")
        for note in dataset.notes:
            say(f"note: {note}")
    return 0


class _ProgressBar:
    """``new``'s progress on one terminal line of stderr: stage, bar, images done. While
    a folder's images are decoded (``decoded``, every group of files), the line counts
    them and names the class folder reached; storing, a chunk behind, is not shown then."""

    EVERY_S = 0.05  # the line is redrawn at most this often (and at the end of a stage)

    def __init__(self) -> None:
        self._shown = ""
        self._decoding = False
        self._drawn = 0.0
        self.folders: tuple[str, ...] = ()  # the class folders, in the order they are read

    def decoded(self, done: int, total: int, folder: str) -> None:
        self._decoding = done < total
        where = ""
        if folder:
            where = f" · {folder}"
            if folder in self.folders:
                where += f" ({self.folders.index(folder) + 1} of {len(self.folders)})"
        self._draw("reading", done, total, where)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not (stage == "storing" and self._decoding):
            self._draw(stage, done, total, "")

    def _draw(self, stage: str, done: int, total: int, where: str) -> None:
        now = time.monotonic()
        if done < total and now - self._drawn < self.EVERY_S:
            return
        filled = 30 * done // max(1, total)
        line = f"{stage} images [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}{where}"
        if line != self._shown:
            pad = " " * max(0, len(self._shown) - len(line))  # wipe a longer line before
            print(f"\r{line}{pad}", end="", file=sys.stderr, flush=True)
            self._shown, self._drawn = line, now

    def end(self) -> None:
        if self._shown:
            print(file=sys.stderr, flush=True)
            self._shown = ""


def _change(args: argparse.Namespace, app: Application, action: Callable[[Project], list[Event]]) -> int:
    with app.projects.open(args.path) as project:
        _refuse_damage(project, args)
        events = action(project)
        if not events:
            say("nothing changed: nothing was recorded")
        for e in events:
            say(describe_event(e, project.info.class_names))
    return 0


def _refuse_damage(project: Project, args: argparse.Namespace) -> None:
    """A change is never written on top of a broken hash chain without saying so: the
    new events would chain over the damage and look like they endorse it."""
    from app.history.integrity import Damage
    from app.project.errors import ProjectError

    chain = project.verify()
    if chain.ok:
        return
    damage = Damage(chain.position or chain.checked + 1, chain.problem or "the hash chain is broken")
    if not args.despite_damage:
        raise ProjectError(
            f"{damage.advice(args.path)}. To record this change anyway and branch "
            "before the damage later, add --despite-damage"
        )
    print(
        f"{PROG}: warning: the event at position {damage.position} is damaged ({damage.problem}); "
        "recording anyway (--despite-damage)",
        file=sys.stderr,
    )


def cmd_label(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.assign_label(args.sample, args.label))


def cmd_label_many(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.assign_label_to_many(args.samples, args.label))


def cmd_unlabel(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.remove_label(args.sample))


def cmd_undo(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.undo())


def cmd_redo(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.redo())


def cmd_add_class(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.add_class(args.name))


def cmd_rename_class(args: argparse.Namespace, app: Application) -> int:
    return _change(args, app, lambda p: p.rename_class(args.label, args.new_name))


def cmd_info(args: argparse.Namespace, app: Application) -> int:
    from app.training.recorder import recover_on_open

    with app.projects.open(args.path) as project:
        recover_on_open(project)  # a run whose trainer was killed reads as interrupted
        _print_summary(project, args.json)
    return 0


def cmd_replay(args: argparse.Namespace, app: Application) -> int:
    with app.projects.open(args.path, as_of=args.until) as project:
        _print_summary(project, args.json)
    return 0


def cmd_export(args: argparse.Namespace, app: Application) -> int:
    from app.history.export import export_events, export_labels, export_predictions
    from app.project.errors import ProjectError

    model = getattr(args, "model", None)  # issue 17: a run's classifier as a bundle
    if not args.labels and not args.events and not args.predictions and not model:
        raise ProjectError(
            "nothing to export: give --labels OUT.csv|OUT.json, --predictions OUT.csv, "
            "--model OUT.llmodel and/or --events OUT.jsonl"
        )
    if args.run and not args.predictions and not model:
        raise ProjectError(
            "--run goes with --predictions or --model: give --predictions OUT.csv --run RUN_ID"
        )
    if getattr(args, "epoch", None) is not None and not model:
        raise ProjectError("--epoch goes with --model: give --model OUT.llmodel --epoch E")
    if args.blobs and not args.events:
        raise ProjectError("--blobs goes with --events: give --events OUT.jsonl --blobs DIR")
    with app.projects.open(args.path) as project:
        if args.labels:
            n = export_labels(project, args.labels)
            say(f"wrote {n} labels to {args.labels}")
        if args.predictions:
            made = export_predictions(project, args.predictions, args.run)
            say(
                f"wrote the predictions of run {made.run_id} (epoch {made.epoch}) for {made.rows} samples "
                f"to {args.predictions}"
            )
        if model:
            from app.history.bundle import export_model

            made_model = export_model(project, model, args.run, args.epoch)
            say(
                f"wrote the classifier of run {made_model.run_id} at epoch {made_model.epoch} to {model} "
                f"({made_model.size:,} bytes; classify images with `ledgerlab predict {model} DATA`)"
            )
        if args.events:
            with app.projects.open_log(args.path, read_only=True) as store:
                n = export_events(project, args.events, stored_hash=store.chain_hash)
            say(f"wrote {n} events to {args.events} (each with its hash in the file's chain)")
        if args.blobs:
            from app.history.portability import export_blobs

            n = export_blobs(project.events(), app.registry, project.get_blob, args.blobs)
            say(f"wrote {n} blobs to {args.blobs}")
    return 0


def cmd_import_events(args: argparse.Namespace, app: Application) -> int:
    from app.history.portability import import_events

    target, events, blobs = import_events(
        app.projects, args.events, args.new_path, args.blobs, as_new_history=args.as_new_history
    )
    if args.as_new_history:
        say(
            f"created {target}: {events} events and {blobs} blobs imported as new history "
            "(not verified against the exported hashes; the first event's metadata says so)"
        )
    else:
        say(
            f"created {target}: {events} events and {blobs} blobs imported, every exported hash "
            "checked (a new hash chain of the same events)"
        )
    return 0


def cmd_demo(args: argparse.Namespace, app: Application) -> int:
    from pathlib import Path

    from app.ui.demo import run_demo  # Qt is loaded only here

    screenshot = Path(args.screenshot).expanduser().absolute() if args.screenshot else None
    if screenshot is not None and not screenshot.parent.is_dir():
        return fail(f"{PROG}: error: the folder {screenshot.parent} does not exist; create it first")
    return run_demo(
        app, screenshot=screenshot, labels=args.labels, epochs=args.epochs, runner=args.runner, keep=args.keep
    )


def cmd_gui(args: argparse.Namespace, app: Application) -> int:
    if args.path:
        from app.project.address import ProjectAddress

        ProjectAddress.parse(args.path)  # a malformed URL is one line here, before any window
    try:
        from app.ui import launch  # Qt is loaded only here
    except ImportError as exc:
        return fail(
            f"{PROG}: error: the window is not available ({exc}); use the subcommands (`{PROG} --help`)"
        )
    result = launch(args.path, app)
    return result if isinstance(result, int) else 0


# --- presentation ----------------------------------------------------------------------


def _print_summary(project: Project, as_json: bool) -> None:
    data = summary(project)
    if as_json:
        import json

        say(json.dumps(data, ensure_ascii=False))
        return
    say(f"project   {data['name']}  ({data['path']})")
    say(f"position  {data['position']} ({data['events']} events)")
    if data["samples"]:
        say(f"dataset   {shape_text(tuple(data['shape']))} from {data['source']}")
    say(f"classes   {classes_text(tuple(data['classes']))}")
    per_class = "  ".join(f"{k}={v}" for k, v in data["per_class"].items())
    say(f"labeled   {data['labeled']} of {data['samples']}" + (f":  {per_class}" if per_class else ""))
    if data["annotators"]:
        say(f"by        {', '.join(data['annotators'])}")
    for run in data["runs"]:
        say(f"run       {run_line(run)}")
    prospective = prospective_line(data["prospective_accuracy"])
    if prospective is not None:
        say(f"accuracy  {prospective} (labels compared with the prediction in force when given)")
