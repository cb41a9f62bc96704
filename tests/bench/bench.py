#!/usr/bin/env python3
"""winback's benchmark script: generates data at scale, runs winback on it, prints figures.

Each area lives in tests/bench/bench_<area>.py with `add_arguments(parser)` and `run(args)`; every run prints
its figures and a ratio against a baseline measured in the same run (machines here are shared and noisy, so
absolute seconds alone mean little).

    python tests/bench/bench.py --help
    python tests/bench/bench.py import --users 1000000 --events 10000000
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="area", required=True)
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(info.name)
        area = info.name.removeprefix("bench_")
        p = sub.add_parser(area, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
