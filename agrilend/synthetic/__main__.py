"""``python -m agrilend.synthetic OUT_DIR [--seed N] [--overwrite]``: regenerate the county."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from agrilend.errors import AgrilendError
from agrilend.synthetic.county import generate_county


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, generate the county, report the files on stderr."""
    parser = argparse.ArgumentParser(prog="python -m agrilend.synthetic", description=__doc__)
    parser.add_argument("out_dir", help="folder to write (e.g. sample_data)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--size", type=int, nargs=2, default=(180, 180), metavar=("ROWS", "COLS"))
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("agrilend").setLevel(logging.INFO)
    start = time.perf_counter()
    try:
        paths = generate_county(
            args.out_dir, seed=args.seed, size_px=tuple(args.size), overwrite=args.overwrite
        )
    except AgrilendError as exc:
        logging.getLogger("agrilend").error("%s", exc)
        return 1
    for name, path in paths.items():
        logging.getLogger("agrilend").info("%-22s %8.1f kB", name, path.stat().st_size / 1e3)
    logging.getLogger("agrilend").info("done in %.1f s", time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
