"""Issue 15 (soak): a finished background job lets go of what its function and its
result slots captured, so a window that opens and closes projects all day does not keep
every closed project alive through the jobs its session owns."""

from __future__ import annotations

import gc
import weakref

from PySide6.QtCore import QObject

from app.ui.background import BackgroundJob


class Held:
    """Stands for a project: something a job's closure and its slots refer to."""


def test_a_finished_job_keeps_nothing_its_function_or_slots_captured(qtbot):
    owner = QObject()  # the session, which keeps its jobs as children
    held = Held()
    gone = weakref.ref(held)
    results = []

    def work(cancelled, held=held):
        yield "working"
        return held

    job = BackgroundJob(work, owner)
    job.succeeded.connect(lambda result, held=held: results.append(result is held))
    job.progressed.connect(lambda _, held=held: None)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    qtbot.wait(50)  # the release is queued after the finished signal
    del held, work  # the test's own references
    gc.collect()
    assert results == [True]  # the result was delivered first
    assert gone() is None
    assert job.wait(1000) and not job.is_running()  # the job itself is still usable
