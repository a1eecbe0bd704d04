#!/usr/bin/env python3
"""make_default.py — writes traces/samples/default.trace, the bundled sample trace that
`iommusim run` and `iommusim replay` use when given no trace.

A small but realistic multi-device mix (about 24k events, ~50 ms of simulated time) in
the text form v1 (docs/trace-format.md), deterministic: the same script always writes the
same bytes (its own seeded PRNG, no clock, no environment). Python 3 standard library only.

Devices (each in its own domain, second-level translation, strict invalidation as Linux's
intel-iommu does with iommu.strict=1):
  01:00.0  NVMe SSD, domain 1: admin and I/O queue pair (4 KB rings mapped once), a PRP-list
           page; per I/O: map the buffer (4 KB pages, 1-4 physically contiguous segments),
           SQE fetch, PRP-list fetch (> 2 pages), one DMA per PRP page, CQE write, MSI,
           unmap, iotlb-page invalidation + wait. 80% 4 KB random reads, 15% 16 KB writes,
           5% 128 KB reads; queue depth <= 32.
  02:00.0  NIC, domain 2: RX/TX descriptor rings (4 KB), an RX buffer pool of 4 x 2 MB
           pages mapped once with page=2M (page_pool on huge pages); RX packets written into
           2 KB buffers, descriptor fetch per 8 packets, write-back per packet, MSI per 32;
           TX packets mapped per packet (dma_map_single of the skb data: 1 or 2 pages, so
           packets that straddle a page boundary make DMAs that cross it), fetched as one
           read, unmapped + invalidated on completion.
  05:00.0  conventional PCI device behind a PCIe-to-PCI bridge: its requests carry the
           bridge's id, so it is attached with alias=00:1e.0; reads 256-byte periods from an
           8 KB ring (an audio-style stream), interrupts through INTx (no MSI events).
Interrupt remapping: one IRTE per vector (irte events, VT-d 9.10 layout: present, vector,
xAPIC destination (APIC id in bits 47:40); SVT=01 verify the source-id, or SVT=10 verify the bus range for the
bridged device), each followed by an iec-index invalidation and a wait. MSIs use the
remappable format (address bit 4 set, handle in bits 19:5) and name their consumer thread
(thread=: 101 the NVMe admin queue's, 102 the I/O queue's, 201 the NIC's RX and TX). A few
sched events place the threads and move 101 from CPU 0 to CPU 3 midway (trace format v3).

Usage: python3 traces/samples/make_default.py [OUT]   (default: default.trace beside this file)
"""

import heapq
import os
import random
import sys

SEED = 20240601
HOST_MEM_LO = 0x1_0000_0000  # host physical memory used for buffers: 4 GB .. 32 GB
HOST_MEM_HI = 0x8_0000_0000

NVME, NIC, LEGACY = 0x0100, 0x0200, 0x0500  # requester ids 01:00.0, 02:00.0, 05:00.0
BRIDGE = 0x00F0  # 00:1e.0
DID = {NVME: 1, NIC: 2, LEGACY: 3}


def sid(s):
    return "%02x:%02x.%d" % (s >> 8, (s >> 3) & 0x1F, s & 7)


class Trace:
    """Collects (time, seq, line) and writes them in time order (seq breaks ties, so events
    issued at the same instant keep the order they were generated in)."""

    def __init__(self):
        self.events = []
        self.seq = 0

    def add(self, t, line):
        self.events.append((int(t), self.seq, line))
        self.seq += 1

    def lines(self):
        for t, _, line in sorted(self.events):
            yield "%s t=%d" % (line, t)


class SlotAllocator:
    """IOVA slots of a fixed size below `top`, handed out lowest-index-first and returned
    when the I/O that used them has finished (its unmap and invalidation are done)."""

    def __init__(self, top, size, count):
        self.top, self.size = top, size
        self.free = list(range(count))
        heapq.heapify(self.free)
        self.busy = []  # (end time, slot)

    def alloc(self, t):
        """Returns (start time, slot, iova); the start waits while every slot is busy."""
        while self.busy and self.busy[0][0] <= t:
            _, slot = heapq.heappop(self.busy)
            heapq.heappush(self.free, slot)
        if not self.free:  # queue full: wait for the oldest I/O to finish
            end, slot = heapq.heappop(self.busy)
            heapq.heappush(self.free, slot)
            t = end
        slot = heapq.heappop(self.free)
        return t, slot, self.top - (slot + 1) * self.size

    def release(self, slot, end):
        heapq.heappush(self.busy, (end, slot))


def am_for(pages):
    """Address mask covering `pages` 4 KB pages (the smallest power of two >= pages)."""
    am = 0
    while (1 << am) < pages:
        am += 1
    return am


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "default.trace")
    rng = random.Random(SEED)
    tr = Trace()

    def rand_pa(align, size):
        span = (HOST_MEM_HI - HOST_MEM_LO - size) // align
        return HOST_MEM_LO + rng.randrange(span) * align

    # ---- setup: interrupt remapping entries, attach, persistent mappings -----------------
    t = 1000
    irtes = [  # index, vector, destination APIC id, sid field, SVT
        (0, 0x21, 0, NVME, 1),     # NVMe admin queue
        (1, 0x22, 1, NVME, 1),     # NVMe I/O queue
        (2, 0x23, 2, NIC, 1),      # NIC RX
        (3, 0x24, 3, NIC, 1),      # NIC TX
        (4, 0x25, 0, 0x0505, 2),   # INTx of the bridged device: verify bus 05..05
    ]
    for index, vector, dest, sidf, svt in irtes:
        lo = 1 | (vector << 16) | (dest << 40)  # xAPIC: the APIC id in bits 47:40
        hi = sidf | (svt << 18)
        tr.add(t, "irte index=%d lo=0x%x hi=0x%x" % (index, lo, hi))
        tr.add(t + 300, "inv type=iec-index index=%d am=0" % index)
        tr.add(t + 400, "inv type=wait")
        t += 1000

    for dev in (NVME, NIC, LEGACY):
        d = DID[dev]
        alias = " alias=%s" % sid(BRIDGE) if dev == LEGACY else ""
        tr.add(t, "attach sid=%s did=%d mode=sl%s" % (sid(dev), d, alias))
        tr.add(t + 200, "inv type=cc-device did=%d sid=%s" % (d, sid(BRIDGE if dev == LEGACY else dev)))
        tr.add(t + 300, "inv type=iotlb-domain did=%d" % d)
        tr.add(t + 400, "inv type=wait")
        t += 1000

    persistent = []  # (did, iova, len) unmapped at the end

    def map_once(d, iova, length, perm, page="4K"):
        nonlocal t
        align = 0x200000 if page == "2M" else 0x1000
        pa = rand_pa(align, length)
        tr.add(t, "map did=%d iova=0x%x pa=0x%x len=0x%x perm=%s page=%s" % (d, iova, pa, length, perm, page))
        persistent.append((d, iova, length))
        t += 500

    NVME_ASQ, NVME_ACQ, NVME_SQ, NVME_CQ, NVME_PRP = 0xFFFFF000, 0xFFFFE000, 0xFFFFD000, 0xFFFFC000, 0xFFFFB000
    for iova in (NVME_ASQ, NVME_ACQ, NVME_SQ, NVME_CQ, NVME_PRP):
        map_once(1, iova, 0x1000, "rw")
    NIC_RXR, NIC_TXR, NIC_POOL = 0xFFFFF000, 0xFFFFE000, 0xFF000000
    map_once(2, NIC_RXR, 0x1000, "rw")
    map_once(2, NIC_TXR, 0x1000, "rw")
    for k in range(4):
        map_once(2, NIC_POOL + k * 0x200000, 0x200000, "rw", "2M")
    LEG_RING = 0xFFFFE000
    map_once(3, LEG_RING, 0x2000, "r")

    # admin queue: identify controller, create the I/O queue pair (three admin commands)
    for k in range(3):
        tr.add(t, "dma sid=%s iova=0x%x len=64 op=r" % (sid(NVME), NVME_ASQ + 64 * k))
        if k == 0:  # identify: 4 KB of data into the PRP page
            tr.add(t + 3000, "dma sid=%s iova=0x%x len=4096 op=w" % (sid(NVME), NVME_PRP))
        tr.add(t + 4000, "dma sid=%s iova=0x%x len=16 op=w" % (sid(NVME), NVME_ACQ + 16 * k))
        tr.add(t + 4100, "msi sid=%s addr=0x%x data=0x0 thread=101" % (sid(NVME), 0xFEE00000 | (0 << 5) | 0x10))
        t += 6000

    for thread, cpu in ((101, 0), (102, 1), (201, 2)):
        tr.add(t, "sched thread=%d cpu=%d state=run" % (thread, cpu))
    t0 = t + 1000
    horizon = t0 + 48_000_000  # ~48 ms of I/O

    # ---- NVMe I/O ------------------------------------------------------------------------
    slots = SlotAllocator(0xFFF00000, 0x20000, 32)  # 128 KB slots, queue depth 32
    sq_tail = cq_head = 0
    t = t0
    nvme_ios = 0
    while True:
        t += int(rng.expovariate(1 / 35000))
        if t >= horizon - 300_000:
            break
        start, slot, base = slots.alloc(t)
        r = rng.random()
        if r < 0.80:
            pages, write, segs = 1, False, 1
        elif r < 0.95:
            pages, write, segs = 4, True, 2
        else:
            pages, write, segs = 32, False, 4
        d = 1
        perm = "r" if write else "w"  # DMA_TO_DEVICE maps read-only, DMA_FROM_DEVICE write-only
        seg_pages = pages // segs
        tt = start
        for s in range(segs):
            length = seg_pages * 0x1000
            tr.add(tt, "map did=%d iova=0x%x pa=0x%x len=0x%x perm=%s page=4K"
                   % (d, base + s * length, rand_pa(0x1000, length), length, perm))
            tt += 150
        tt += 800  # doorbell write, controller fetches the command
        tr.add(tt, "dma sid=%s iova=0x%x len=64 op=r" % (sid(NVME), NVME_SQ + 64 * (sq_tail % 64)))
        sq_tail += 1
        if pages > 2:  # PRP list: one 8-byte entry per page after the first
            tt += 300
            tr.add(tt, "dma sid=%s iova=0x%x len=%d op=r"
                   % (sid(NVME), NVME_PRP + 8 * (slot % 16) * 32, 8 * (pages - 1)))
        tt += 1500 if write else 80000 + rng.randrange(20000)  # media read latency
        for p in range(pages):
            tr.add(tt, "dma sid=%s iova=0x%x len=4096 op=%s" % (sid(NVME), base + p * 0x1000, "r" if write else "w"))
            tt += 350
        if write:
            tt += 15000 + rng.randrange(5000)  # write-cache acknowledgement
        tr.add(tt, "dma sid=%s iova=0x%x len=16 op=w" % (sid(NVME), NVME_CQ + 16 * (cq_head % 256)))
        cq_head += 1
        tr.add(tt + 100, "msi sid=%s addr=0x%x data=0x0 thread=102" % (sid(NVME), 0xFEE00000 | (1 << 5) | 0x10))
        tt += 3000  # interrupt handler, blk-mq completion, dma_unmap_sg
        tr.add(tt, "unmap did=%d iova=0x%x len=0x%x" % (d, base, pages * 0x1000))
        tr.add(tt + 200, "inv type=iotlb-page did=%d addr=0x%x am=%d" % (d, base, am_for(pages)))
        tr.add(tt + 300, "inv type=wait")
        slots.release(slot, tt + 300)
        nvme_ios += 1

    # ---- NIC RX ----------------------------------------------------------------------------
    t = t0
    rx_buf = 0
    rx_desc = 0
    n_rx = 0
    while True:
        # bursty arrivals: a burst of 1-16 back-to-back packets every ~200 us
        t += int(rng.expovariate(1 / 200000))
        burst = rng.randrange(1, 17)
        if t + burst * 2000 >= horizon:
            break
        for _ in range(burst):
            r = rng.random()
            plen = rng.randrange(64, 129) if r < 0.6 else 576 if r < 0.7 else 1514
            if n_rx % 8 == 0:  # descriptor prefetch: 8 x 16 bytes
                tr.add(t, "dma sid=%s iova=0x%x len=128 op=r" % (sid(NIC), NIC_RXR + 16 * (rx_desc % 256)))
            buf = NIC_POOL + (rx_buf % 4096) * 2048  # 2 KB buffers over the 8 MB pool
            tr.add(t + 400, "dma sid=%s iova=0x%x len=%d op=w" % (sid(NIC), buf + 64, plen))
            tr.add(t + 600, "dma sid=%s iova=0x%x len=16 op=w" % (sid(NIC), NIC_RXR + 16 * (rx_desc % 256)))
            if n_rx % 32 == 31:
                tr.add(t + 700, "msi sid=%s addr=0x%x data=0x0 thread=201" % (sid(NIC), 0xFEE00000 | (2 << 5) | 0x10))
            rx_buf += 1
            rx_desc += 1
            n_rx += 1
            t += 1200 + plen  # wire time at ~10 Gb/s, roughly

    # ---- NIC TX ----------------------------------------------------------------------------
    tx_slots = SlotAllocator(0xFE000000, 0x2000, 64)  # 8 KB slots: a packet spans <= 2 pages
    t = t0
    tx_desc = 0
    n_tx = 0
    crossing = 0
    while True:
        t += int(rng.expovariate(1 / 75000))
        if t >= horizon - 50_000:
            break
        start, slot, base = tx_slots.alloc(t)
        r = rng.random()
        plen = rng.randrange(64, 129) if r < 0.5 else 1514
        off = rng.randrange(0, 4096 // 64) * 64  # skb->data offset within its page
        if n_tx == 0:
            off = 3968  # the first packet straddles a page boundary for sure
        pages = 2 if off + plen > 4096 else 1
        crossing += pages == 2
        tt = start
        tr.add(tt, "map did=2 iova=0x%x pa=0x%x len=0x%x perm=r page=4K"
               % (base, rand_pa(0x1000, pages * 0x1000), pages * 0x1000))
        tt += 700  # doorbell, descriptor fetch
        tr.add(tt, "dma sid=%s iova=0x%x len=16 op=r" % (sid(NIC), NIC_TXR + 16 * (tx_desc % 256)))
        tt += 500
        tr.add(tt, "dma sid=%s iova=0x%x len=%d op=r" % (sid(NIC), base + off, plen))
        tt += 800
        tr.add(tt, "dma sid=%s iova=0x%x len=16 op=w" % (sid(NIC), NIC_TXR + 16 * (tx_desc % 256)))
        if n_tx % 16 == 15:
            tr.add(tt + 100, "msi sid=%s addr=0x%x data=0x0 thread=201" % (sid(NIC), 0xFEE00000 | (3 << 5) | 0x10))
        tt += 4000  # TX completion (NAPI poll)
        tr.add(tt, "unmap did=2 iova=0x%x len=0x%x" % (base, pages * 0x1000))
        tr.add(tt + 200, "inv type=iotlb-page did=2 addr=0x%x am=%d" % (base, am_for(pages)))
        tr.add(tt + 300, "inv type=wait")
        tx_slots.release(slot, tt + 300)
        tx_desc += 1
        n_tx += 1
    assert crossing > 0

    # ---- the bridged device: a 256-byte period every ~90 us from its 8 KB ring ------------
    t = t0
    k = 0
    while t < horizon:
        tr.add(t, "dma sid=%s iova=0x%x len=256 op=r" % (sid(LEGACY), LEG_RING + 256 * (k % 32)))
        k += 1
        t += 90000 + rng.randrange(-500, 500)

    # ---- a thread migration midway, teardown at the end -----------------------------------
    mid = t0 + (horizon - t0) // 2
    tr.add(mid, "sched thread=101 cpu=0 state=stop")
    tr.add(mid + 5000, "sched thread=101 cpu=3 state=run")
    t = horizon + 1_000_000
    for thread, cpu in ((101, 3), (102, 1), (201, 2)):
        tr.add(t, "sched thread=%d cpu=%d state=stop" % (thread, cpu))
    t += 1000
    for d, iova, length in persistent:
        tr.add(t, "unmap did=%d iova=0x%x len=0x%x" % (d, iova, length))
        t += 200
    for dev in (NVME, NIC, LEGACY):
        tr.add(t, "inv type=iotlb-domain did=%d" % DID[dev])
        tr.add(t + 100, "inv type=wait")
        tr.add(t + 200, "detach sid=%s" % sid(dev))
        t += 1000

    with open(out, "w", newline="\n") as f:
        f.write("# iommusim trace v3\n")
        f.write("# default.trace: the bundled sample (NVMe 01:00.0 in domain 1, NIC 02:00.0 in\n")
        f.write("# domain 2, a PCI device 05:00.0 behind the bridge 00:1e.0 in domain 3).\n")
        f.write("# Written by traces/samples/make_default.py (seed %d); do not edit by hand.\n" % SEED)
        f.write("# %d NVMe I/Os, %d RX packets, %d TX packets (%d crossing a page boundary).\n"
                % (nvme_ios, n_rx, n_tx, crossing))
        for line in tr.lines():
            f.write(line + "\n")


if __name__ == "__main__":
    main()
