"""The history subcommands of ``ledgerlab``: branch, log, verify, import-events.

Each takes a ``.ledger`` path or a ``postgresql://…?project=NAME`` URL; messages show the
latter with any password as ``***``.

Registered by ``app/cli.py``; errors are raised as ``ProjectError`` and become one
line with exit code 2 there. A failed verification prints what passed on stdout
and the first problem as one line on stderr, and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from app.project.errors import ProjectError

if TYPE_CHECKING:
    from app.history.timeline import History
    from app.project.bootstrap import Application
    from eventstore import EventStore


class AddCommand(Protocol):
    """The ``add`` of ``app.cli.main.build_parser``: registers one subcommand."""

    def __call__(
        self,
        name: str,
        handler: Callable[[argparse.Namespace, Application], int],
        help_text: str,
        common_options: bool = True,
    ) -> argparse.ArgumentParser: ...


def add_commands(add: AddCommand, position_type: Callable[[str], int]) -> None:
    p = add("branch", cmd_branch, "create a new project file holding this one's history up to a position")
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument(
        "--at",
        metavar="POSITION",
        type=position_type,
        required=True,
        help="the last position the branch keeps (see `ledgerlab log`)",
    )
    p.add_argument("new_path", metavar="NEW.ledger")

    # Here --annotator filters (listing records nothing, so nobody acts).
    p = add(
        "log", cmd_log, "list the events: position, time, annotator, type and a summary", common_options=False
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--type", metavar="T", help="only events of this type (e.g. LabelAssigned)")
    p.add_argument("--annotator", metavar="A", help="only events by this annotator")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = add(
        "verify",
        cmd_verify,
        "check the hash chain, the blobs and the snapshots; "
        "with --rerun, re-execute a training run and compare it with its record",
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--rerun", metavar="RUN_ID", help="re-execute this run from its events")

    p = add("import-events", cmd_import_events, "create a project file from `export --events` output")
    p.add_argument("events", metavar="OUT.jsonl")
    p.add_argument("new_path", metavar="NEW.ledger")
    p.add_argument("--blobs", metavar="DIR", help="the folder `export --events OUT.jsonl --blobs DIR` wrote")


def cmd_branch(args: argparse.Namespace, app: Application) -> int:
    from app.history.branching import branch

    target = branch(app.projects, args.path, args.at, args.new_path)
    from app.project.address import ProjectAddress

    print(f"created {target}: a branch of {ProjectAddress.parse(args.path)} at position {args.at}")
    return 0


def cmd_log(args: argparse.Namespace, app: Application) -> int:
    from app.history.timeline import History

    if args.type is not None and args.type not in app.registry:
        raise ProjectError(
            f"unknown event type {args.type!r}: choose one of {', '.join(app.registry.type_names)}"
        )
    from app.project.address import ProjectAddress

    address = ProjectAddress.parse(args.path)
    with app.projects.open_log(address, read_only=True) as store:
        history = History(store, app.registry, path=address.path, extra_parts=app.projects.extra_projections)
        try:
            _print_log(history, args)
        except BrokenPipeError:  # `ledgerlab log … | head`: the reader has seen enough
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- keeps the exit flush quiet
    return 0


def _print_log(history: History, args: argparse.Namespace) -> None:
    import orjson

    from app.cli.reports import iso_time

    names, write = history.class_names(), sys.stdout.write
    for e in history.events(args.type, args.annotator):
        row = history.row(e, names)
        if args.json:
            write(
                orjson.dumps(
                    {
                        "position": row.position,
                        "time": iso_time(row.time),
                        "annotator": row.annotator,
                        "type": row.type,
                        "summary": row.summary,
                        "stream": row.stream,
                    }
                ).decode()
                + "\n"
            )
        else:
            write(
                f"{row.position:>7}  {iso_time(row.time)}  {row.annotator or '-':<12}  "
                f"{row.type:<19}  {row.summary}\n"
            )


def cmd_verify(args: argparse.Namespace, app: Application) -> int:
    with app.projects.open_log(args.path, read_only=True) as store:
        if args.rerun is not None:
            return _rerun(args, app, store)
        from app.history.integrity import verify_project

        report = verify_project(store, app.registry, app.projects.extra_projections)
    for line in report.checked:
        print(f"ok: {line}")
    if report.ok:
        return 0
    from app.project.address import ProjectAddress

    print(f"ledgerlab: verify: {ProjectAddress.parse(args.path)}: {report.problem}", file=sys.stderr)
    return 2


def _rerun(args: argparse.Namespace, app: Application, store: EventStore) -> int:
    from app.history.rerun import rerun

    report = rerun(
        store,
        app.registry,
        app.projects.extra_projections,
        args.rerun,
        on_epoch=lambda done, total: print(f"rerun {args.rerun}: epoch {done}/{total}", flush=True),
    )
    for note in report.notes:
        print(f"note: {note}")
    if report.identical:
        print(
            f"run {args.rerun}: identical: {report.epochs} epochs' metrics and "
            f"{report.checkpoints} checkpoints match the record bit for bit"
        )
        return 0
    for line in report.differences:
        print(f"differs: {line}")
    print(
        f"ledgerlab: verify: run {args.rerun} differs from its record in {len(report.differences)} "
        f"places (first: {report.differences[0]})",
        file=sys.stderr,
    )
    return 2


def cmd_import_events(args: argparse.Namespace, app: Application) -> int:
    from app.history.portability import import_events

    target, events, blobs = import_events(app.projects, args.events, args.new_path, args.blobs)
    print(
        f"created {target}: {events} events and {blobs} blobs imported (a new hash chain of the same events)"
    )
    return 0
