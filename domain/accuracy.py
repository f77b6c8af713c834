"""How accurate a model probably is, with its uncertainty: counts in, an estimate out.

An accuracy is only honest when it is measured on labels the model did not train on;
where those counts come from (labels given while a run's predictions were in force,
a held-out share) is the application's business (``held_out_estimate`` reads the
held-out counts an epoch's metrics carry). Here: the 95 % interval of a rate
(Wilson's score interval, which stays inside [0, 1] and keeps its coverage near 0 and 1
and at small n, where the normal approximation does neither), and the rule that below
``MIN_SAMPLES`` an estimate says "too few" instead of a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Z_95 = 1.959963984540054

MIN_SAMPLES = 20
"""Below this many compared labels an estimate gives no number. At 20 labels the 95 %
interval of a model right 90 % of the time is already 70–97 %, and the widest one
(at 50 %) is ±20 points; at 10 labels they are 60–98 % and ±26 points, and each label
moves the number by 10 points: a figure that reads as "91 %" would say more than the
labels know. From 20 on, the number and its interval together say it honestly."""


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval of the rate ``correct / n``; (0.0, 1.0) when ``n`` is 0."""
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denominator
    # Rounding can put a bound a hair outside [0, 1] or past the rate at the extremes.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


@dataclass(frozen=True)
class AccuracyEstimate:
    """An accuracy with its 95 % interval; ``value``, ``low`` and ``high`` are None when
    ``n`` is below ``MIN_SAMPLES`` (too few to say). ``method`` names what was compared
    (e.g. "prospective": labels given while the run's predictions were in force)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    correct: int = 0

    @classmethod
    def from_counts(cls, correct: int, n: int, method: str) -> AccuracyEstimate:
        if n < MIN_SAMPLES:
            wilson_interval(correct, n)  # still refuses impossible counts
            return cls(None, None, None, n, method, correct)
        low, high = wilson_interval(correct, n)
        return cls(correct / n, low, high, n, method, correct)

    @property
    def too_few(self) -> bool:
        return self.value is None

    def text(self) -> str:
        """One phrase for people: "91.2 % (95 % interval 85.0–95.1 %, 64 labels, prospective)"."""
        if self.value is None or self.low is None or self.high is None:
            return f"too few labels to estimate ({self.n} compared, {MIN_SAMPLES} needed)"
        return (
            f"{self.value:.1%} (95 % interval {self.low:.1%}–{self.high:.1%}, {self.n} labels, {self.method})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n, "method": self.method}


HELD_OUT = "held-out"


def held_out_estimate(metrics: Mapping[str, Any] | None) -> AccuracyEstimate | None:
    """The held-out estimate an epoch's metrics carry (``heldout_correct`` of
    ``heldout_n`` labels kept out of training, as recorded in ``EpochCompleted``), or
    None when the run held nothing out."""
    if not metrics:
        return None
    correct, n = metrics.get("heldout_correct"), metrics.get("heldout_n")
    if correct is None or n is None:
        return None
    try:
        return AccuracyEstimate.from_counts(int(correct), int(n), HELD_OUT)
    except (TypeError, ValueError):  # damaged figures: nothing to show rather than a wrong one
        return None
