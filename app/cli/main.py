"""``ledgerlab``: the window by default, subcommands for headless work.

Exit codes: 0 success, 2 bad input or a refused command (one line on stderr,
never a traceback), 1 an unexpected internal error, 130 interrupted.
Qt is imported only by the ``gui`` command, so headless commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

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

PROG = "ledgerlab"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _sample(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return value


def _position(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return value


def _despite_damage(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--despite-damage",
        action="store_true",
        help="record the change even if the log's hash chain is broken (to keep working "
        "now and branch before the damage later)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--annotator",
        metavar="NAME",
        help="who is labeling (default: $LEDGERLAB_ANNOTATOR, else the OS user)",
    )
    parser = _Parser(
        prog=PROG,
        description="Label images and train a semi-supervised VAE; every action is an event. "
        "Without a command, opens the window on the default MNIST project.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str,
        handler: Callable[[argparse.Namespace, Application], int],
        help_text: str,
        common_options: bool = True,
    ) -> argparse.ArgumentParser:
        # typeshed wants parents of the subparsers' own class; argparse takes any parser.
        p = sub.add_parser(
            name,
            parents=[common] if common_options else [],  # type: ignore[list-item]
            help=help_text,
            description=help_text,
        )
        p.set_defaults(handler=handler)
        return p

    p = add("new", cmd_new, "create a project file from the embedded MNIST set or your images")
    p.add_argument("path", metavar="PATH.ledger")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mnist", action="store_true", help="the embedded MNIST 10k (default)")
    src.add_argument("--dataset", metavar="FILE_OR_DIR", help="a .npz file or a folder of PNG/JPEG")
    p.add_argument("--classes", metavar="a,b,c", help="class names, comma-separated")
    p.add_argument("--name", metavar="N", help="project name (default: the file name)")

    p = add("label", cmd_label, "give a sample a label")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("sample", metavar="SAMPLE", type=_sample)
    p.add_argument("label", metavar="CLASS", help="class name or number")

    p = add("label-many", cmd_label_many, "give many samples one label, as one undoable step")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("label", metavar="CLASS", help="class name or number")
    p.add_argument("samples", metavar="SAMPLE", type=_sample, nargs="+")

    p = add("unlabel", cmd_unlabel, "remove a sample's label")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("sample", metavar="SAMPLE", type=_sample)

    for name, handler, text in (
        ("undo", cmd_undo, "undo your latest label change"),
        ("redo", cmd_redo, "redo the label change you undid last"),
    ):
        p = add(name, handler, text)
        _despite_damage(p)
        p.add_argument("path", metavar="PATH.ledger")

    p = add("add-class", cmd_add_class, "add a class")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("name", metavar="NAME")

    p = add("rename-class", cmd_rename_class, "rename a class (labels keep their class)")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("label", metavar="CLASS", help="class name or number")
    p.add_argument("new_name", metavar="NEW_NAME")

    p = add("info", cmd_info, "describe a project")
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "export", cmd_export, "export labels (.csv/.json), predictions (.csv) and/or the event log (.jsonl)"
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--labels", metavar="OUT.csv|OUT.json")
    p.add_argument(
        "--predictions",
        metavar="OUT.csv",
        help="one row per sample: predicted class, confidence, your label, each class's probability",
    )
    p.add_argument(
        "--run",
        metavar="RUN_ID",
        help="with --predictions: this run's latest predictions (default: the latest run's that has any)",
    )
    p.add_argument("--events", metavar="OUT.jsonl")
    p.add_argument("--blobs", metavar="DIR", help="with --events: also write the blobs the events reference")

    p = add("replay", cmd_replay, "show the project as it was at a position of its log")
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--until", metavar="POSITION", type=_position, required=True)
    p.add_argument("--json", action="store_true", help="print JSON")

    from app.cli import history as history_cli  # branch, log, verify, import-events

    made: dict[str, argparse.ArgumentParser] = {}

    def add_and_keep(
        name: str,
        handler: Callable[[argparse.Namespace, Application], int],
        help_text: str,
        common_options: bool = True,
    ) -> argparse.ArgumentParser:
        made[name] = add(name, handler, help_text, common_options)
        return made[name]

    history_cli.add_commands(add_and_keep, _position)
    # Until app/cli/history.py offers it: importing an unverified export as new history.
    made["import-events"].add_argument(
        "--as-new-history",
        action="store_true",
        help="import an export whose hashes do not check out (edited, or written before exports "
        "carried hashes); the new file records that its history was not verified",
    )
    made["import-events"].set_defaults(handler=cmd_import_events)

    from app.cli import team  # push, pull, conflicts, server init

    team.add_commands(add)

    from app.cli import quality as quality_cli  # suggest, flags

    quality_cli.add_commands(add)

    from app.cli import training as training_cli  # JAX loads only when a run starts

    p = add("train", training_cli.cmd_train, "train the semi-supervised VAE on the labels so far")
    training_cli.add_arguments(p)

    p = add(
        "demo",
        cmd_demo,
        "a scripted tour: a new MNIST project, labels typed by a simulated "
        "annotator at the real window, a training run, and a screenshot",
    )
    p.add_argument(
        "--screenshot", metavar="OUT.png", help="save the window here when training ends, then exit"
    )
    p.add_argument("--labels", type=_count, default=100, help="how many samples to label (default 100)")
    p.add_argument("--epochs", type=_count, default=3, help="epochs to train (default 3)")
    p.add_argument("--runner", choices=("process", "thread"), default="process")

    p = add(
        "gui", cmd_gui, "open the window (on PATH or a server project's URL, or on the default MNIST project)"
    )
    p.add_argument("path", metavar="PATH|URL", nargs="?")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        args.handler, args.path, args.annotator = cmd_gui, None, None

    from app.project.errors import ProjectError
    from domain.errors import DomainError
    from eventstore import StoreError

    app = None
    try:
        from app.project.bootstrap import bootstrap

        app = bootstrap(annotator=args.annotator)
        return args.handler(args, app) or 0
    except BrokenPipeError:  # `ledgerlab info | head`: the reader has seen enough
        return _quiet_after_broken_pipe()
    except (DomainError, ProjectError) as exc:
        return _fail(f"{PROG}: error: {exc}")
    except StoreError as exc:
        return _fail(f"{PROG}: error: {_explain_store_error(exc, args)}")
    except KeyboardInterrupt:
        return _fail(f"{PROG}: interrupted", 130)
    except PermissionError as exc:  # e.g. a folder above the project that may not be entered
        where = exc.filename or getattr(args, "path", None) or "a file"
        return _fail(
            f"{PROG}: error: permission denied for {where}: check the permissions of it "
            "and of the folders above it, or run as a user who may read it"
        )
    except Exception as exc:  # a bug, or a damaged event: still one line, never a traceback
        damage = _damage_behind(args, app)
        if damage is not None:
            return _fail(f"{PROG}: error: {damage}")
        return _fail(f"{PROG}: internal error ({type(exc).__name__}: {exc}); please report it", 1)


def _fail(message: str, code: int = 2) -> int:
    try:
        print(" ".join(message.split()), file=sys.stderr)
    except (BrokenPipeError, ValueError):  # stderr closed too: the exit code says it
        pass
    return code


def _quiet_after_broken_pipe() -> int:
    """Nothing more can be said on stdout; keep Python's exit flush from printing a
    traceback about it (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no descriptor (a test's capture)
        pass
    return 0


def _damage_behind(args: argparse.Namespace, app: Application | None) -> str | None:
    """After an unexpected error on a project: the damaged event that caused it, told
    as one sentence with the ways out; None when the log is sound (then it is a bug)."""
    path = getattr(args, "path", None)
    if app is None or not isinstance(path, str):
        return None
    from app.history.integrity import find_damage

    try:
        with app.projects.open_log(path, read_only=True) as store:
            damage = find_damage(store, app.registry, app.projects.extra_projections)
    except Exception:  # noqa: BLE001 -- the diagnosis must not hide the first error
        return None
    if damage is None:
        return None
    return damage.advice(path, suggest_verify=args.command != "verify")


def _explain_store_error(exc: Exception, args: argparse.Namespace) -> str:
    """The store's sentence, unless the cause is one it cannot see from inside SQLite."""
    import os
    from pathlib import Path

    from eventstore import StoreCorrupt, StoreReadOnly

    path = getattr(args, "path", None)
    if isinstance(exc, StoreCorrupt) and args.command == "verify":
        # The store's advice is to run verify, which is what failed here.
        return (
            f"{path} is damaged below the level of events (SQLite: {exc.__cause__ or exc}); "
            "nothing was changed: restore it from a backup"
        )
    if isinstance(exc, StoreReadOnly) and isinstance(path, str):
        file = Path(path).expanduser().absolute()
        folder = file.parent
        if file.is_file() and not os.access(folder, os.W_OK) and not Path(f"{file}-shm").exists():
            return (
                f"cannot open {file}: its folder {folder} is not writable, and SQLite needs "
                "to create the write-ahead log (-wal, -shm files) beside the project even to "
                "read it; make the folder writable, or copy the file to a folder you can write "
                "and open the copy"
            )
        if file.is_file() and not os.access(file, os.W_OK):
            return (
                f"{file} is not writable (check its permissions); to look without changing "
                f"it, use `ledgerlab log` or `ledgerlab replay --until POSITION`"
            )
    return str(exc)


def _out(text: str = "") -> None:
    print(text)


# --- handlers ------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace, app: Application) -> int:
    from domain.dataset import load_dataset, load_mnist

    dataset = load_dataset(args.dataset) if args.dataset else load_mnist(app.settings.resources_dir)
    classes = None
    if args.classes is not None:
        classes = tuple(name.strip() for name in args.classes.split(","))
    with app.projects.create(args.path, dataset, name=args.name, class_names=classes) as project:
        info = project.info
        _out(f"created {project.path}: {info.project_name!r}, {shape_text(info.shape)} from {info.source}")
        _out(f"classes: {classes_text(info.class_names)}")
        for note in dataset.notes:
            _out(f"note: {note}")
    return 0


def _change(args: argparse.Namespace, app: Application, action: Callable[[Project], list[Event]]) -> int:
    with app.projects.open(args.path) as project:
        _refuse_damage(project, args)
        events = action(project)
        if not events:
            _out("nothing changed: nothing was recorded")
        for e in events:
            _out(describe_event(e, project.info.class_names))
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

    if not args.labels and not args.events and not args.predictions:
        raise ProjectError(
            "nothing to export: give --labels OUT.csv|OUT.json, --predictions OUT.csv "
            "and/or --events OUT.jsonl"
        )
    if args.run and not args.predictions:
        raise ProjectError("--run goes with --predictions: give --predictions OUT.csv --run RUN_ID")
    if args.blobs and not args.events:
        raise ProjectError("--blobs goes with --events: give --events OUT.jsonl --blobs DIR")
    with app.projects.open(args.path) as project:
        if args.labels:
            n = export_labels(project, args.labels)
            _out(f"wrote {n} labels to {args.labels}")
        if args.predictions:
            made = export_predictions(project, args.predictions, args.run)
            _out(
                f"wrote the predictions of run {made.run_id} (epoch {made.epoch}) for {made.rows} samples "
                f"to {args.predictions}"
            )
        if args.events:
            with app.projects.open_log(args.path, read_only=True) as store:
                n = export_events(project, args.events, stored_hash=store.chain_hash)
            _out(f"wrote {n} events to {args.events} (each with its hash in the file's chain)")
        if args.blobs:
            from app.history.portability import export_blobs

            n = export_blobs(project.events(), app.registry, project.get_blob, args.blobs)
            _out(f"wrote {n} blobs to {args.blobs}")
    return 0


def cmd_import_events(args: argparse.Namespace, app: Application) -> int:
    from app.history.portability import import_events

    target, events, blobs = import_events(
        app.projects, args.events, args.new_path, args.blobs, as_new_history=args.as_new_history
    )
    if args.as_new_history:
        _out(
            f"created {target}: {events} events and {blobs} blobs imported as new history "
            "(not verified against the exported hashes; the first event's metadata says so)"
        )
    else:
        _out(
            f"created {target}: {events} events and {blobs} blobs imported, every exported hash "
            "checked (a new hash chain of the same events)"
        )
    return 0


def cmd_demo(args: argparse.Namespace, app: Application) -> int:
    from pathlib import Path

    from app.ui.demo import run_demo  # Qt is loaded only here

    screenshot = Path(args.screenshot).expanduser().absolute() if args.screenshot else None
    if screenshot is not None and not screenshot.parent.is_dir():
        return _fail(f"{PROG}: error: the folder {screenshot.parent} does not exist; create it first")
    return run_demo(app, screenshot=screenshot, labels=args.labels, epochs=args.epochs, runner=args.runner)


def cmd_gui(args: argparse.Namespace, app: Application) -> int:
    if args.path:
        from app.project.address import ProjectAddress

        ProjectAddress.parse(args.path)  # a malformed URL is one line here, before any window
    try:
        from app.ui import launch  # Qt is loaded only here
    except ImportError as exc:
        return _fail(
            f"{PROG}: error: the window is not available ({exc}); use the subcommands (`{PROG} --help`)"
        )
    result = launch(args.path, app)
    return result if isinstance(result, int) else 0


# --- presentation ----------------------------------------------------------------------


def _print_summary(project: Project, as_json: bool) -> None:
    data = summary(project)
    if as_json:
        import json

        _out(json.dumps(data, ensure_ascii=False))
        return
    _out(f"project   {data['name']}  ({data['path']})")
    _out(f"position  {data['position']} ({data['events']} events)")
    if data["samples"]:
        _out(f"dataset   {shape_text(tuple(data['shape']))} from {data['source']}")
    _out(f"classes   {classes_text(tuple(data['classes']))}")
    per_class = "  ".join(f"{k}={v}" for k, v in data["per_class"].items())
    _out(f"labeled   {data['labeled']} of {data['samples']}" + (f":  {per_class}" if per_class else ""))
    if data["annotators"]:
        _out(f"by        {', '.join(data['annotators'])}")
    for run in data["runs"]:
        _out(f"run       {run_line(run)}")
    prospective = prospective_line(data["prospective_accuracy"])
    if prospective is not None:
        _out(f"accuracy  {prospective} (labels compared with the prediction in force when given)")


if __name__ == "__main__":
    sys.exit(main())
