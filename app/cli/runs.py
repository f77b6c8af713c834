"""``ledgerlab runs``: every training run as a model to compare, and the decisions about
runs — which one drives the window (``--choose``), which are put away (``--archive``,
``--unarchive``) and named settings (``--save-preset NAME --from-run RUN``,
``--delete-preset NAME``). Each decision is one event in the ``models`` stream.

Registered by ``app/cli/main.py``; errors are ``ProjectError``s, one line and exit 2 there.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from app.cli.history import AddCommand
from app.cli.output import say
from app.project.errors import ProjectError
from app.quality import runs as model_runs

if TYPE_CHECKING:
    from app.project.bootstrap import Application
    from app.project.live import Project


def add_commands(add: AddCommand) -> None:
    p = add(
        "runs",
        cmd_runs,
        "list the training runs as models; choose the one that drives the window, archive "
        "failures, save a run's settings as a named preset",
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="list archived runs too")
    act = p.add_mutually_exclusive_group()
    act.add_argument(
        "--choose",
        metavar="RUN_ID",
        help=f"make this run's predictions drive the window (RunChosen); '{model_runs.NEWEST}': "
        "back to the newest run's",
    )
    act.add_argument("--archive", metavar="RUN_ID", help="hide this run from the lists (RunArchived)")
    act.add_argument("--unarchive", metavar="RUN_ID", help="list this run again (RunUnarchived)")
    act.add_argument(
        "--save-preset", metavar="NAME", help="save a run's settings under NAME (with --from-run RUN_ID)"
    )
    act.add_argument("--delete-preset", metavar="NAME", help="delete the preset NAME")
    p.add_argument("--from-run", metavar="RUN_ID", help="with --save-preset: the run whose settings to save")


def cmd_runs(args: argparse.Namespace, app: Application) -> int:
    from app.training.recorder import recover_on_open

    if args.from_run and not args.save_preset:
        raise ProjectError("--from-run goes with --save-preset: give --save-preset NAME --from-run RUN_ID")
    if args.save_preset and not args.from_run:
        raise ProjectError("--save-preset needs the run whose settings to save: add --from-run RUN_ID")
    with app.projects.open(args.path) as project:
        recover_on_open(project)  # a run whose trainer was killed reads as interrupted
        event = None
        if args.choose is not None:
            event = model_runs.choice(project, args.choose)
        elif args.archive is not None:
            event = model_runs.archiving(project, args.archive, archive=True)
        elif args.unarchive is not None:
            event = model_runs.archiving(project, args.unarchive, archive=False)
        elif args.save_preset is not None:
            event = model_runs.preset_from_run(project, args.save_preset, args.from_run)
        elif args.delete_preset is not None:
            event = model_runs.preset_deletion(project, args.delete_preset)
        else:
            _print_runs(project, args)
            return 0
        if event is None:
            say("nothing changed: nothing was recorded")
        else:
            model_runs.record(project, event)
            say(event.summary())
    return 0


def _print_runs(project: Project, args: argparse.Namespace) -> None:
    rows = model_runs.run_rows(project, include_archived=args.all)
    if args.json:
        say(json.dumps({"runs": [row.as_json() for row in rows]}, ensure_ascii=False))
        return
    training = model_runs.training_of(project)
    if not rows:
        hidden = len(training.choices.archived)
        say(
            "no runs yet: train with `ledgerlab train`"
            if not hidden
            else f"{hidden} archived runs (see --all)"
        )
        return
    for row in rows:
        mark = "*" if row.driving else " "
        tags = [t for t, on in (("chosen", row.chosen), ("archived", row.archived)) if on]
        loss = "—" if row.final_loss is None else f"{row.final_loss:.3f}"
        say(
            f"{mark} {row.run_id}  {row.status}  {model_runs.iso(row.started_at)}  "
            f"{row.epochs} epoch{'s' if row.epochs != 1 else ''} (to {row.last_epoch}) in {model_runs.duration_text(row.duration)}"
            + (f"  [{', '.join(tags)}]" if tags else "")
        )
        say(
            f"    labels {model_runs.labels_text(row)}  final loss {loss}  accuracy {model_runs.accuracy_text(row)}"
        )
        say(
            f"    settings {model_runs.settings_text(row.config)}"
            + (f"  continues {row.continued_from}" if row.continued_from else "")
            + f"  checkpoints at {', '.join(map(str, row.checkpoints)) or '—'}"
        )
    say("* drives the window (map colours, probabilities, U, suggestions)")
    if training.choices.presets:
        say("presets: " + ", ".join(repr(name) for name in training.choices.presets))
