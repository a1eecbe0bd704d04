#!/usr/bin/env python3
"""Deals a buffer-level text trace (iommusim trace v2) round-robin to several CPUs.

    iommusim trace gen buffers ... -o - | python3 spread_cpus.py --cpus 2 > out.trace

`iommusim trace gen buffers` puts every dma_map and dma_unmap on CPU 0. This adds
`cpu=(H - 1) mod N` to the dma_map and dma_unmap events of buffer handle H (handles are
1, 2, ... in map order), so a buffer is mapped and unmapped on the same CPU and, with a ring
of R buffers (R a multiple of N), CPU c serves every N-th I/O, like one receive queue per
CPU. Every other line is copied as it is. Run with host.cpus >= N.
"""

import argparse
import re
import sys

HANDLE = re.compile(r"\bhandle=(\d+)\b")


def spread(lines, cpus):
    for line in lines:
        if line.startswith(("dma_map ", "dma_unmap ")):
            if " cpu=" in line:
                raise SystemExit(f"spread_cpus: already has a cpu=: {line.strip()}")
            m = HANDLE.search(line)
            if not m:
                raise SystemExit(f"spread_cpus: no handle=: {line.strip()}")
            cpu = (int(m.group(1)) - 1) % cpus
            if cpu:
                line = line.rstrip("\n") + f" cpu={cpu}\n"
        yield line


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", type=int, required=True, help="number of CPUs, >= 1")
    args = ap.parse_args()
    if args.cpus < 1:
        ap.error("--cpus must be >= 1")
    sys.stdout.writelines(spread(sys.stdin, args.cpus))


if __name__ == "__main__":
    main()
