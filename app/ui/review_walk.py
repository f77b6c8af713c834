"""Suggestions and flags from the keyboard (issue 13, ``app.quality.review``), the part
of the labeling controller that walks the person through what the model proposes.

``S`` jumps to the next sample of the suggestion queue, asking for suggestions (``auto``)
when it is empty; ``U`` asks for the most uncertain samples the same way (fast, so on the
spot); ``F`` jumps to the next open flag or annotator disagreement, checking the labels
when the latest run was not checked yet; ``K`` keeps a flagged label. Computing runs in a
``BackgroundJob`` on copies of the labels, pixels and predictions; the result is recorded
on the GUI thread, and only for the project it was computed for. After each epoch (or
when another run's predictions drive the window) a queue in use is refreshed, and after
a run the labels are checked.

``ReviewWalk`` is mixed into ``labeling.LabelingController``: it uses the controller's
window, selection, predictions, project, ``report`` and ``jobs``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import QObject

from app.project.errors import ProjectError
from app.quality import review as quality
from app.ui import navigation
from app.ui.background import BackgroundJob
from domain.errors import DomainError
from domain.model_events import RunArchived, RunChosen, RunUnarchived
from domain.quality_events import QUALITY_EVENTS
from domain.training_events import TERMINAL_EVENTS, PredictionsComputed
from eventstore import StoreError

# events after which other predictions may drive the window: a queue in use is refreshed
PREDICTIONS_DRIVERS = frozenset(
    e.type_name for e in (PredictionsComputed, RunChosen, RunArchived, RunUnarchived)
)
QUALITY_TYPES = frozenset(e.type_name for e in QUALITY_EVENTS)


class ReviewWalk:
    """S, U, F and K: suggestions and flags, computed off the GUI thread."""

    # What the controller it is mixed into provides (set in its __init__).
    window: Any
    selection: Any
    predictions: Any
    project: Any
    jobs: dict[str, BackgroundJob]
    report: Callable[[str, BaseException], None]
    offline: str | None
    _refused_in_past: Callable[[], bool]

    def next_most_uncertain(self) -> None:
        """The most uncertain unlabeled samples by the predictions shown, recorded as
        suggestions (``uncertain``); pressed again, the next of them."""
        if self.project is None:
            return
        predictions = self.predictions.get()
        if predictions is None or navigation.most_uncertain(predictions, self.project.labels.labels) is None:
            self.window.statusBar().showMessage(
                "No predictions yet: train the model first (or every sample is labeled)", 4000
            )
            return
        state = quality.quality_of(self.project)
        batch = state.suggestions
        queued = [s.sample for s in quality.queue(self.project)]
        ref = self.project.state.extras.get("training")
        ref = getattr(ref, "latest_predictions", None)
        same_model = (
            batch is not None
            and batch.strategy == "uncertain"
            and (ref is None or (batch.run_id, batch.epoch) == (ref.run_id, ref.epoch))
        )
        if not (same_model and self._jump(queued)):
            # Margins of the predictions take milliseconds: no thread needed.
            try:
                inputs = quality.suggestion_inputs(self.project, shown=predictions)
                found = quality.compute_suggestions(inputs, "uncertain", quality.DEFAULT_COUNT)
            except ProjectError as exc:
                self.report("No suggestions", exc)
                return
            event = quality.suggestions_made(found, inputs, "uncertain")
            if not self.project.read_only:
                self._record(event)
            self._jump(list(event.samples), fresh=True)

    # --- suggestions and flags (issue 13) -------------------------------------------------

    @staticmethod
    def _after(order: list[int], current) -> int | None:
        """The sample after ``current`` in ``order`` (wrapping), else the first."""
        if not order:
            return None
        if current in order:
            return order[(order.index(current) + 1) % len(order)]
        return order[0]

    def _jump(self, order: list[int], fresh: bool = False) -> bool:
        """Select the next of ``order`` after the current sample; of a ``fresh`` order
        (just computed) its first sample that is not the current one."""
        current = self.selection.current
        if fresh:
            target = next((s for s in order if s != current), None)
        else:
            target = self._after(order, current)
        if target is None:
            return False
        self.selection.select_one(target)
        return True

    def _record(self, event) -> bool:
        if self._refused_offline("That was not recorded"):
            return False
        try:
            quality.record(self.project, event)
        except (DomainError, ProjectError) as exc:
            self.report("That was not recorded", exc)
            return False
        except StoreError as exc:
            self.report("That was not recorded", ProjectError(f"{exc}; nothing was recorded"))
            return False
        return True

    def _refused_offline(self, title: str) -> bool:
        if self.offline is None:
            return False
        self.report(
            title,
            ProjectError(
                "the server of this project cannot be reached: nothing was recorded; "
                "the window reconnects by itself, try again when it says the server is back"
            ),
        )
        return True

    def next_suggested(self) -> None:
        """The next sample of the suggestion queue; an empty queue is refilled (auto)."""
        if self.project is None:
            return
        if self._jump([s.sample for s in quality.queue(self.project)]):
            return
        if self.project.read_only:
            self.window.statusBar().showMessage(
                "No suggestions left as of this position: press “Back to now” to ask for more", 6000
            )
            return
        self.request_suggestions(jump=True)

    def request_suggestions(self, strategy: str = "auto", jump: bool = False) -> BackgroundJob | None:
        """Compute suggestions off the GUI thread, record them, and (``jump``) show the first."""
        if self.project is None or self.project.read_only or "suggest" in self.jobs:
            return None
        project = self.project
        try:
            inputs = quality.suggestion_inputs(project)
        except ProjectError as exc:
            self.report("No suggestions", exc)
            return None

        def suggest(cancelled):
            yield "suggesting"
            return quality.compute_suggestions(inputs, strategy, quality.DEFAULT_COUNT)

        def done(found) -> None:
            if project is not self.project:
                return  # another project (or moment) is shown now
            event = quality.suggestions_made(found, inputs, strategy)
            if not event.samples:
                self.window.statusBar().showMessage("Every sample is labeled: nothing to suggest", 4000)
                return
            if self._record(event) and jump:
                self._jump([s.sample for s in quality.queue(project)], fresh=True)
                self.window.statusBar().showMessage(
                    f"{len(event.samples)} suggested to label ({event.strategy}); S for the next", 6000
                )

        if jump:
            self.window.statusBar().showMessage("Choosing samples to label…")
        return self._start("suggest", suggest, done, "No suggestions")

    def review_order(self) -> list[int]:
        """Open flags (most likely wrong first), then samples whose annotators disagree."""
        flagged = [f.sample for f in quality.open_flags(self.project)]
        return flagged + [s for s in sorted(self.disagreements) if s not in flagged]

    def next_flagged(self) -> None:
        """The next flagged label or disagreement; checks the labels first when the latest
        run (or, before any run, the project) has not been checked yet."""
        if self.project is None:
            return
        due = quality.flags_due(self.project) and not self.project.read_only
        stale = self._disagreements_at != self.project.position and len(self.project.labels.annotators) > 1
        if not due and self._jump(self.review_order()):
            if stale:
                self.request_flags(check=False)
            return
        if due or stale:
            self.request_flags(check=due, jump=True)
            return
        self.window.statusBar().showMessage(
            "No open flags: every flagged label was fixed or kept, and no annotators disagree", 6000
        )

    def request_flags(self, check: bool = True, jump: bool = False) -> BackgroundJob | None:
        """Check the labels (``check``) and find annotators who disagree, off the GUI thread;
        record the flags, and (``jump``) show the first."""
        if self.project is None or "flags" in self.jobs:
            return None
        project = self.project
        inputs = quality.flag_inputs(project) if check and not project.read_only else None
        several = len(project.labels.annotators) > 1
        events = project.events() if several else iter(())
        at = project.position

        def check_labels(cancelled):
            yield "checking labels"
            issues = quality.compute_flags(inputs) if inputs is not None else None
            yield "reading who labeled what"
            return issues, (quality.disagreements(events) if several else ())

        def done(result) -> None:
            if project is not self.project:
                return
            issues, disagreements = result
            self.disagreements = {d.sample: d for d in disagreements}
            self._disagreements_at = at
            if (
                issues is not None
                and inputs is not None
                and not self._record(quality.issues_flagged(issues, inputs))
            ):
                return
            order = self.review_order()
            self._refresh_viewer()
            if jump and not self._jump(order, fresh=True):
                self.window.statusBar().showMessage("No label looks wrong, and no annotators disagree", 6000)
            elif issues is not None:
                self.window.statusBar().showMessage(
                    f"{len(order)} label(s) to review: F for the next, K keeps a flagged label", 8000
                )

        if jump:
            self.window.statusBar().showMessage("Checking the labels…")
        return self._start("flags", check_labels, done, "The labels could not be checked")

    def keep_label(self) -> None:
        """Keep the current sample's flagged label (``LabelIssueDismissed``) and move on."""
        if self.project is None or self.selection.current is None or self._refused_in_past():
            return
        try:
            event = quality.dismissal(self.project, self.selection.current)
        except ProjectError as exc:
            self.window.statusBar().showMessage(str(exc), 4000)
            return
        if self._record(event):
            self._jump(self.review_order())

    def _start(self, name: str, job_function, on_success, failure_title: str) -> BackgroundJob:
        job = BackgroundJob(job_function, cast(QObject, self))  # the controller is the QObject
        project = self.project

        def failed(exc: BaseException) -> None:
            if project is self.project:
                self.report(failure_title, exc)

        job.succeeded.connect(on_success)
        job.failed.connect(failed)
        job.finished.connect(lambda: self.jobs.pop(name, None))
        self.jobs[name] = job
        return job.start()

    def _refresh_viewer(self) -> None:
        viewer = getattr(self.window, "viewer", None)
        if viewer is not None and hasattr(viewer, "show_review"):
            viewer.show_review(self.disagreements)

    def _on_project_changed(self, change) -> None:
        """After an epoch, refresh a queue in use; after a run, check the labels."""
        project = self.project
        if project is None or project.read_only:
            return
        types = {e.type for e in change.events}
        if types & TERMINAL_EVENTS and quality.flags_due(project):
            self.request_flags()
        elif types & PREDICTIONS_DRIVERS and quality.quality_of(project).suggestions is not None:
            # new predictions, or another run now drives the window (Use this run, archive)
            ref = getattr(project.state.extras.get("training"), "latest_predictions", None)
            if ref is not None and ref.meaningful:
                self.request_suggestions()
