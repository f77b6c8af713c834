"""The training wing, Qt-free: a run's spec (``spec``), the one loop's wrapper every
runner calls (``execution``), the worker process (``worker``, ``protocol``), recording a
run's events (``recorder``), the service that starts and stops runs (``service``), the
one-run-per-project lease (``lease``), kept compiled programs (``programs``) and the
process-wide settings of a training process (``allocator``). The Qt runners that drive
it from the window live in ``app.ui.training_runners``."""
