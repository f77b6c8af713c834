"""Guards against a Qt binding that would take the application down.

PySide6 6.12.0's ``Signal.emit()`` releases one reference to ``True`` on every call. On
Python 3.11 (where ``True`` is not immortal) the interpreter aborts with "bool_dealloc"
after a few hundred emits — a training run emits that many within a minute.
"""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object)


def test_emitting_a_signal_leaves_the_reference_count_of_true_alone(qapp):
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(50):
        emitter.fired.emit(i)
    after = sys.getrefcount(True)
    assert received == list(range(50))
    assert after >= before - 5, (
        f"each Signal.emit() dropped a reference to True ({before} -> {after}); this PySide6 "
        "release crashes the interpreter — install another (see pyproject.toml)"
    )
