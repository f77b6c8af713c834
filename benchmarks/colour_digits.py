"""Make the coloured-digit set (domain.colour_digits) from the embedded MNIST 10k.

Writes a ``.npz`` with ``images`` (N, size, size, 3) uint8 and ``labels`` (the true
digits; `ledgerlab new` ignores them, benchmarks score with them), ready for
`ledgerlab new PROJECT --data OUT.npz`. --preview also saves a PNG grid of the first
160 pictures.

    .venv/bin/python -m benchmarks.colour_digits OUT.npz [--count N] [--seed S]
        [--size 32] [--variant textured|cluttered] [--preview grid.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from domain.colour_digits import MAX_SIZE, MIN_SIZE, VARIANTS, make_colour_digits  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The embedded grey digits and their true labels."""
    path = next((p for p in DATA if p.exists()), None)
    if path is None:
        raise SystemExit(f"mnist10k.npz not found in {' or '.join(map(str, DATA))}")
    with np.load(path) as data:
        return data["images"], data["labels"]


def colour_digits(
    count: int = 10_000, seed: int = 0, size: int = 32, variant: str = "textured"
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` embedded digits, coloured (what the benchmarks train on)."""
    digits, labels = mnist()
    return make_colour_digits(digits[:count], labels[:count], seed, size, variant)


def save_grid(images: np.ndarray, path: Path, columns: int = 16, zoom: int = 2) -> None:
    from PIL import Image

    shown = images[: columns * 10]
    rows = -(-len(shown) // columns)
    side = images.shape[1] + 2
    grid = np.full((rows * side, columns * side, 3), 255, np.uint8)
    for k, picture in enumerate(shown):
        r, c = divmod(k, columns)
        grid[r * side : r * side + side - 2, c * side : c * side + side - 2] = picture
    image = Image.fromarray(grid)
    image.resize((image.width * zoom, image.height * zoom), Image.Resampling.NEAREST).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the .npz file to write")
    parser.add_argument("--count", type=int, default=10_000, help="pictures (at most 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=32, help="side in pixels")
    parser.add_argument(
        "--variant", default="textured", choices=VARIANTS, help="which set (domain.colour_digits)"
    )
    parser.add_argument("--preview", type=Path, help="also save a PNG grid of examples here")
    args = parser.parse_args(argv)
    if args.out.suffix.lower() != ".npz":
        parser.error(f"{args.out} does not end in .npz: give a file name such as colour.npz")
    if not 1 <= args.count <= 10_000:
        parser.error(f"--count must be between 1 and 10,000 (the embedded digits), got {args.count}")
    if args.seed < 0:
        parser.error(f"--seed must be at least 0, got {args.seed}")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        parser.error(f"--size must be between {MIN_SIZE} and {MAX_SIZE}, got {args.size}")
    started = time.perf_counter()
    images, labels = colour_digits(args.count, args.seed, args.size, args.variant)
    try:
        np.savez(args.out, images=images, labels=labels)
    except OSError as exc:
        print(f"cannot write {args.out} ({exc.strerror}); choose a writable place", file=sys.stderr)
        return 2
    if args.preview:
        save_grid(images, args.preview)
    print(
        f"wrote {args.out}: {len(images):,} pictures {images.shape[1:]} in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
