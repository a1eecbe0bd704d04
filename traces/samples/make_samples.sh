#!/bin/sh
# make_samples.sh — regenerates every sample trace in this folder, deterministically (the
# same commands always write the same bytes; tests/sim/trace_cli_test.cpp checks that).
# Usage: traces/samples/make_samples.sh [path/to/iommusim]   (default: build/iommusim)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/iommusim}

# pcie-bench window pattern: 256 KB window, 64 B reads, 4 KB pages (fits a typical IOTLB)
"$bin" trace gen window --window 256K --size 64 --count 20000 --page 4K --op read --seed 1 \
    -o "$here/window-256k-64b.trace"
# 64 MB window of 2 MB pages, 512 B writes (32 pages: the 2M-page IOTLB reach question)
"$bin" trace gen window --window 64M --size 512 --count 20000 --page 2M --op write --seed 1 \
    -o "$here/window-64m-2m.bin"
# buffer events (v2): two NICs receiving 1500 B packets into rings of 256 mapped buffers
"$bin" trace gen buffers --count 2000 --size 1500 --devices 2 --seed 1 \
    -o "$here/buffers-rx-1500.trace"
# interrupts (v3): a 4-queue NIC whose consumers are vCPUs (halted, preempted, moving every
# 100 of their interrupts), NAPI RX and batched TX completions
"$bin" trace gen irq --pattern nic --count 2000 --queues 4 --vm --migrate-every 100 --seed 1 \
    -o "$here/irq-nic-vm.trace"
# the bundled multi-device sample
python3 "$here/make_default.py" "$here/default.trace"
