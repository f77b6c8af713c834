"""Line coverage of the last test run (``.coverage``), one line per package.

``make test`` prints this after the suite, so thin places show at a glance:
``python tests/coverage_by_package.py``.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import coverage


def main() -> int:
    data = coverage.Coverage()
    data.load()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # package -> [statements, missed]
    for filename in data.get_data().measured_files():
        _, statements, _, missing, _ = data.analysis2(filename)
        parts = filename.replace("\\", "/").split("/")
        for root in ("app", "domain", "eventstore"):
            if root in parts:
                rest = parts[parts.index(root) :]
                package = ".".join(rest[:2]) if len(rest) > 2 else root
                totals[package][0] += len(statements)
                totals[package][1] += len(missing)
                break
    print(f"\n{'package':<24}{'lines':>8}{'missed':>8}{'cover':>8}")
    for package in sorted(totals):
        lines, missed = totals[package]
        share = 100.0 * (lines - missed) / lines if lines else 100.0
        print(f"{package:<24}{lines:>8}{missed:>8}{share:>7.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
