"""The project wing, Qt-free: opening and creating projects (``service``), an open
project (``live``), what a view may read of one (``view``), the wiring of the domain's
projections to the store (``projections``, ``snapshots``), the mapping of domain events
to store records (``mapper``), and the one composition root (``bootstrap``)."""
