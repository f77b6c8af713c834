"""A run of ``LabelAssigned`` events, folded in bulk by the projections.

Replaying a big log is mostly long runs of label events, and most of them are
overwritten later in the same run. So only two fields are read from every
event (the sample and the annotator, with C-level ``map``/``itemgetter``); the
other fields are read only for the events that survive: the last change of
each sample, and the newest changes that fit in each annotator's undo history.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter, itemgetter

import numpy as np

from domain.projections.recorded import Recorded

_DATA = attrgetter("data")
_META = attrgetter("metadata")
_SAMPLE = itemgetter("sample")
_ANNOTATOR = itemgetter("annotator")


class LabelRun:
    def __init__(self, events: list[Recorded]) -> None:
        self.events = events
        self.samples = np.fromiter(map(_SAMPLE, map(_DATA, events)), np.int64, len(events))
        try:
            self.annotators: list[str] = list(map(_ANNOTATOR, map(_META, events)))
        except KeyError:  # events recorded without an annotator (foreign logs)
            self.annotators = [e.metadata.get("annotator", "") for e in events]
        # Counts per annotator, in order of first appearance (interning order).
        self.annotator_counts: Counter[str] = Counter(self.annotators)

    def __len__(self) -> int:
        return len(self.events)

    def last_of_each_sample(self, sample_count: int) -> tuple[np.ndarray, np.ndarray]:
        """(distinct samples, index in the run of each one's last change)."""
        n = len(self.samples)
        if 4 * n < sample_count:
            # Short run, many samples: sorting the run beats scanning every sample.
            distinct, first_from_end = np.unique(self.samples[::-1], return_index=True)
            return distinct, n - 1 - first_from_end
        last = np.full(sample_count, -1, dtype=np.int64)
        np.maximum.at(last, self.samples, np.arange(n))
        samples = np.flatnonzero(last >= 0)
        return samples, last[samples]

    def events_at(self, indices: np.ndarray) -> np.ndarray:
        """The recorded events at ``indices``, as an object array."""
        events = self.events
        return np.fromiter((events[i] for i in indices.tolist()), dtype=object, count=len(indices))

    def records_at(self, indices: list[int]) -> np.ndarray:
        """int64 rows (position, sample, label, previous) of the given events."""
        rows = []
        for i in indices:
            e = self.events[i]
            d = e.data
            rows.append((e.position, d["sample"], d["label"], d["previous"]))
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    def newest_of(self, wanted: dict[str, int]) -> dict[str, list[int]]:
        """For each annotator, the indices of their ``wanted[name]`` newest
        events, oldest first (walks back from the end only as far as needed)."""
        need = {name: n for name, n in wanted.items() if n > 0}
        picked: dict[str, list[int]] = {name: [] for name in need}
        remaining = sum(need.values())
        names = self.annotators
        i = len(names) - 1
        while remaining and i >= 0:
            name = names[i]
            if need.get(name):
                picked[name].append(i)
                need[name] -= 1
                remaining -= 1
            i -= 1
        return {name: idx[::-1] for name, idx in picked.items()}
