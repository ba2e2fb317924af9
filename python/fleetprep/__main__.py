"""python -m fleetprep verify|inspect PATH: the Python reader's view of a dataset or shard."""
import argparse
import sys
from typing import List, Optional

from . import open as open_dataset
from ._shards import ShardFormatError


def main(argv: Optional[List[str]] = None) -> int:
    """Runs `verify` (exit 1 and one BAD line per problem) or `inspect` on a dataset or shard."""
    ap = argparse.ArgumentParser(prog="python -m fleetprep")
    ap.add_argument("command", choices=["verify", "inspect"])
    ap.add_argument("path", help="a dataset directory (with index.json), one .fps / .tar shard, or a dataset URL")
    a = ap.parse_args(argv)
    try:
        ds = open_dataset(a.path)
    except (ShardFormatError, OSError) as e:
        print(f"BAD {e}")
        return 1
    if a.command == "inspect":
        print(f"{a.path}: {ds.format} dataset, {len(ds)} samples in {len(ds.files)} shard(s)")
        for (dtype, shape, layout), n in sorted(ds.shapes().items(), key=lambda x: -x[1]):
            print(f"tensor {dtype} {list(shape)} {layout}: {n} samples")
        if ds.label_names:
            print("labels: " + ", ".join(ds.label_names))
        return 0
    problems = ds.verify()
    for p in problems:
        print("BAD " + p)
    if not problems:
        print(f"ok: {len(ds)} samples verified")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
