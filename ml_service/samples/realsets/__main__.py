"""``python -m ml_service.samples.realsets --modality M [--cache DIR] [--sources DIR] [--force]``.

Builds the real set of each named modality (default: every set with a manifest) into the cache
and prints one line per set: its folder and sample count, or why it cannot be built here.
Exit 0 when every set was built, 1 when one is unavailable, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ml_service.samples.realsets import RealSetUnavailable, default_cache, load_set, set_names, source_roots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_service.samples.realsets", description=__doc__.split("\n")[0])
    parser.add_argument("--modality", action="append", default=[], choices=set_names(), metavar="M")
    parser.add_argument("--cache", type=Path, default=None, help="default: ML_REALDATA_CACHE or ~/.cache/ml-service/real")
    parser.add_argument("--sources", default=None, help=f"source folders, {os.pathsep!r}-separated "
                                                         "(default: ML_REALDATA_SOURCES or /work/.mirror)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached set matches")
    args = parser.parse_args(argv)
    cache = args.cache or default_cache()
    roots = source_roots({"ML_REALDATA_SOURCES": args.sources} if args.sources else None)
    status = 0
    for name in args.modality or set_names():
        try:
            built, reused = load_set(name, cache, roots, force=args.force)
        except RealSetUnavailable as exc:
            print(f"{name}: unavailable: {exc}")
            status = 1
            continue
        hours = sum(s.duration_s for s in built) / 3600
        print(f"{name}: {len(built)} samples, {hours:.2f} h, {'reused' if reused else 'built'} in {cache / name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
