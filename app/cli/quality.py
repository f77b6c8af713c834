"""``ledgerlab suggest`` and ``ledgerlab flags``: what to label next, and which labels
look wrong. Both record what they found (``SuggestionsMade``, ``LabelIssuesFlagged``),
so the history says why a sample was labeled or looked at again.

Registered by ``app/cli/main.py``; errors are raised as ``ProjectError`` and become one
line with exit code 2 there.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from app.cli.history import AddCommand
from app.quality import review as quality
from domain.events import class_name
from domain.suggestions import STRATEGIES

if TYPE_CHECKING:
    from app.project.bootstrap import Application


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= quality.MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {quality.MAX_COUNT:,}, not {text!r}"
        )
    return value


def _sample(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def add_commands(add: AddCommand) -> None:
    p = add("suggest", cmd_suggest, "which samples to label next (recorded as SuggestionsMade)")
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument(
        "--count",
        type=_count,
        default=quality.DEFAULT_COUNT,
        help=f"how many samples (default {quality.DEFAULT_COUNT})",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto (default: typical before a model has seen labels, then diverse "
        "uncertainty), typical, uncertain, diverse or random",
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "flags",
        cmd_flags,
        "labels that look wrong, most likely first (checked and recorded "
        "as LabelIssuesFlagged when the latest run has not been checked yet)",
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("--recheck", action="store_true", help="check the labels again now")
    p.add_argument(
        "--keep",
        metavar="SAMPLE",
        type=_sample,
        action="append",
        default=[],
        help="keep the flagged label of SAMPLE (records LabelIssueDismissed; repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_suggest(args: argparse.Namespace, app: Application) -> int:
    with app.projects.open(args.path) as project:
        event = quality.suggest(project, args.strategy, args.count)
    rows = [
        {"sample": s, "score": score, "reason": reason}
        for s, score, reason in zip(event.samples, event.scores, event.reasons)
    ]
    if args.json:
        print(
            json.dumps(
                {"strategy": event.strategy, "run": event.run_id, "epoch": event.epoch, "samples": rows},
                indent=2,
            )
        )
        return 0
    if not rows:
        print("every sample is labeled: nothing to suggest")
        return 0
    source = f" (predictions of run {event.run_id}, epoch {event.epoch})" if event.run_id else ""
    print(f"{len(rows)} to label next, by {event.strategy}{source}:")
    for row in rows:
        print(f"  sample {row['sample']:>7}  {row['reason']}")
    return 0


def cmd_flags(args: argparse.Namespace, app: Application) -> int:
    with app.projects.open(args.path) as project:
        for sample in args.keep:
            quality.record(project, quality.dismissal(project, sample))
        checked = args.recheck or quality.flags_due(project)
        if checked:
            quality.flag(project)
        names = project.info.class_names
        state = quality.quality_of(project)
        flags = quality.open_flags(project)
        disagreements = quality.disagreements(project.events())
        run = quality.latest_run_id(project)
    rows: list[dict[str, Any]] = [
        {
            "sample": f.sample,
            "label": class_name(f.label, names),
            "suggested": class_name(f.suggested, names),
            "score": f.score,
        }
        for f in flags
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "run": run,
                    "checked_now": checked,
                    "method": quality.FLAG_METHOD,
                    "flags": rows,
                    "dismissed": len(state.dismissed),
                    "disagreements": [
                        {
                            "sample": d.sample,
                            "labels": {who: class_name(label, names) for who, label in d.labels},
                        }
                        for d in disagreements
                    ],
                },
                indent=2,
            )
        )
        return 0
    after = f"after run {run}" if run else "before any run"
    print(
        f"{len(rows)} label{'s' if len(rows) != 1 else ''} look{'s' if len(rows) == 1 else ''} "
        f"wrong ({'checked now' if checked else 'checked earlier'}, {after}; most likely first):"
    )
    for row in rows:
        print(
            f"  sample {row['sample']:>7}  labeled {row['label']}, looks like {row['suggested']} "
            f"(label quality {row['score']:.2f})"
        )
    for d in disagreements:
        print(f"  sample {d.sample:>7}  {quality.disagreement_text(d, names)}")
    if rows:
        print(
            "fix one with `ledgerlab label PATH SAMPLE CLASS`, or keep it with "
            "`ledgerlab flags PATH --keep SAMPLE`"
        )
    return 0
