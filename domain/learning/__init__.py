"""Learning: the M2 semi-supervised VAE and the one training loop that trains it.

Pure: numpy, JAX, Flax and Optax only; no threads, files or Qt. Runners in
app/training iterate ``training.train`` and turn its ``EpochResult``s into events.

Import from the modules themselves: ``config`` (what a form validates against) loads
no JAX, so a window that trains in a worker process never pays for it; ``training``
(the loop), ``step``, ``loss``, ``model``, ``map_layout``, ``checkpoint`` and
``programs`` do.
"""
