"""The history wing: everything about a project's log as a whole, Qt-free.

``timeline`` (listing, as-of views, epochs), ``index`` (a columnar index of the log for
the history table), ``branching`` (a new project from a past position), ``integrity``
(verify), ``rerun`` (reproduce a run from its events), ``portability`` and
``ledger_files`` (export and import of whole logs), ``export`` (labels and events out).
How an event reads in one line is the event class's own ``summary``.
"""
