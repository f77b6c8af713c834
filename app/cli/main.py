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

from app.cli import project as project_cli
from app.cli.output import PROG, fail

if TYPE_CHECKING:
    from app.project.bootstrap import Application


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

    p = add("new", project_cli.cmd_new, "create a project file from the embedded MNIST set or your images")
    p.add_argument("path", metavar="PATH.ledger")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mnist", action="store_true", help="the embedded MNIST 10k (default)")
    src.add_argument("--dataset", metavar="FILE_OR_DIR", help="a .npz file or a folder of PNG/JPEG")
    p.add_argument("--classes", metavar="a,b,c", help="class names, comma-separated")
    p.add_argument("--name", metavar="N", help="project name (default: the file name)")

    p = add("label", project_cli.cmd_label, "give a sample a label")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("sample", metavar="SAMPLE", type=_sample)
    p.add_argument("label", metavar="CLASS", help="class name or number")

    p = add("label-many", project_cli.cmd_label_many, "give many samples one label, as one undoable step")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("label", metavar="CLASS", help="class name or number")
    p.add_argument("samples", metavar="SAMPLE", type=_sample, nargs="+")

    p = add("unlabel", project_cli.cmd_unlabel, "remove a sample's label")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("sample", metavar="SAMPLE", type=_sample)

    for name, handler, text in (
        ("undo", project_cli.cmd_undo, "undo your latest label change"),
        ("redo", project_cli.cmd_redo, "redo the label change you undid last"),
    ):
        p = add(name, handler, text)
        _despite_damage(p)
        p.add_argument("path", metavar="PATH.ledger")

    p = add("add-class", project_cli.cmd_add_class, "add a class")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("name", metavar="NAME")

    p = add("rename-class", project_cli.cmd_rename_class, "rename a class (labels keep their class)")
    _despite_damage(p)
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("label", metavar="CLASS", help="class name or number")
    p.add_argument("new_name", metavar="NEW_NAME")

    p = add("info", project_cli.cmd_info, "describe a project")
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "export",
        project_cli.cmd_export,
        "export labels (.csv/.json), predictions (.csv) and/or the event log (.jsonl)",
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
    p.add_argument(
        "--model",
        metavar="OUT.llmodel",
        help="one run's classifier as a bundle for `ledgerlab predict` (default: the run that drives "
        "the window, at its latest checkpoint; choose with --run and --epoch)",
    )
    p.add_argument("--epoch", metavar="E", type=_count, help="with --model: the checkpoint of this epoch")

    p = add("replay", project_cli.cmd_replay, "show the project as it was at a position of its log")
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
    made["import-events"].set_defaults(handler=project_cli.cmd_import_events)

    from app.cli import team  # push, pull, conflicts, server init

    team.add_commands(add)

    from app.cli import quality as quality_cli  # suggest, flags

    quality_cli.add_commands(add)

    from app.cli import runs as runs_cli  # runs as models (issue 17)

    runs_cli.add_commands(add)

    from app.cli import training as training_cli  # JAX loads only when a run starts

    p = add("train", training_cli.cmd_train, "train the semi-supervised VAE on the labels so far")
    training_cli.add_arguments(p)

    from app.cli import predict as predict_cli  # JAX loads only when images are classified

    predict_cli.add_commands(add)

    p = add(
        "demo",
        project_cli.cmd_demo,
        "a scripted tour: a new MNIST project, labels typed by a simulated "
        "annotator at the real window, a training run, and a screenshot",
    )
    p.add_argument(
        "--screenshot", metavar="OUT.png", help="save the window here when training ends, then exit"
    )
    p.add_argument("--labels", type=_count, default=100, help="how many samples to label (default 100)")
    p.add_argument("--epochs", type=_count, default=3, help="epochs to train (default 3)")
    p.add_argument("--runner", choices=("process", "thread"), default="process")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's project (printed) instead of removing it at the end",
    )

    p = add(
        "gui",
        project_cli.cmd_gui,
        "open the window (on PATH or a server project's URL, or on the default MNIST project)",
    )
    p.add_argument("path", metavar="PATH|URL", nargs="?")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return fail(str(exc))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        args.handler, args.path, args.annotator = project_cli.cmd_gui, None, None

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
        return fail(f"{PROG}: error: {exc}")
    except StoreError as exc:
        return fail(f"{PROG}: error: {_explain_store_error(exc, args)}")
    except KeyboardInterrupt:
        return fail(f"{PROG}: interrupted", 130)
    except PermissionError as exc:  # e.g. a folder above the project that may not be entered
        where = exc.filename or getattr(args, "path", None) or "a file"
        return fail(
            f"{PROG}: error: permission denied for {where}: check the permissions of it "
            "and of the folders above it, or run as a user who may read it"
        )
    except Exception as exc:  # a bug, or a damaged event: still one line, never a traceback
        damage = _damage_behind(args, app)
        if damage is not None:
            return fail(f"{PROG}: error: {damage}")
        return fail(f"{PROG}: internal error ({type(exc).__name__}: {exc}); please report it", 1)


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


if __name__ == "__main__":
    sys.exit(main())
