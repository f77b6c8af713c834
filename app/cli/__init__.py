"""The ``ledgerlab`` command: one module per group of subcommands.

``main`` parses and dispatches; ``project`` commands live in ``main``, history commands
(branch, log, verify, import-events) in ``history``, ``train`` in ``training``, and the
text and JSON a person reads in ``reports``. Every command reaches the application through
the composition root, ``app.project.bootstrap``.
"""
