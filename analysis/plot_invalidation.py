#!/usr/bin/env python3
"""Plot the invalidation-policies study (experiments/invalidation-policies).

Reads the CSV written by the workflow's collect step: one row per run, with the identity
columns kind (policy | sweep | capture), workload, policy, param, value, mode (timed |
functional), size, sg, dir, ring, count, warmup, file, then the flattened stats JSON
(analysis/stats.py). Writes, for an output stem S:

  S_policies.{png,pdf}  policy x workload (kind = policy): DMA throughput, host CPU load,
                        mean (and median) DMA latency, CPU cycles per I/O stacked by
                        component, invalidation descriptors per I/O, mean invalidation wait,
                        invalidation-queue occupancy, IOTLB hit rate, page-table reads per
                        I/O, max and mean stale window, stale bytes per I/O, sub-page
                        exposure per I/O
  S_sweep.{png,pdf}     (kind = sweep rows) throughput, cycles, descriptors, stale pages
                        and windows against lazy's high-water mark and batched's batch
                        size, one line per workload
  S_variants.{png,pdf}  (kind = variant rows) a workload's variants (more CPUs, ATS, ...)
                        next to its plain policy runs: throughput, CPU load, cycles, waits,
                        queue occupancy, latency, stale pages and windows, device-TLB hits
  S_captures.{png,pdf}  (kind = capture rows) the real Linux captures replayed as recorded:
                        descriptors by type, IOTLB hit rate, stale windows
  S_summary.csv, S_summary.md   the derived numbers behind the figures (per-I/O metrics)

A figure whose rows are absent is not written.

    python3 analysis/plot_invalidation.py out/invalidation.csv -o out/invalidation

Per-I/O metrics divide by counters.host.dma_unmaps (the I/Os completed after the warm-up);
capture rows (DMA-level traces, no dma_unmap) divide by counters.dma.count instead (per DMA).
The host CPU load is the CPU time per I/O (host.cycles per I/O / host.cpu_ghz) over the
time per I/O (I/O size / DMA throughput), divided by host.cpus: ~100 % when the CPUs are the
bottleneck.
"""

import argparse
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

POLICY_ORDER = ["strict", "batched", "lazy", "identity", "passthrough"]
POLICY_COLORS = {"strict": "#c0392b", "batched": "#e67e22", "lazy": "#f1c40f",
                 "identity": "#2980b9", "passthrough": "#7f8c8d", "recorded": "#8e44ad"}
POLICY_LETTER = {"strict": "S", "batched": "B", "lazy": "L", "identity": "I",
                 "passthrough": "P"}
NO_ISOLATION = ("passthrough", "identity")  # the device reaches all memory, always
CYCLE_PARTS = [("map", "map"), ("unmap", "unmap"), ("iova", "IOVA alloc/free"),
               ("submit", "descriptors + doorbell"), ("wait", "waiting for invalidation")]
CYCLE_COLORS = ["#66c2a5", "#8da0cb", "#e78ac3", "#a6d854", "#4d4d4d"]
DESC_TYPES = [("iotlb.page", "IOTLB page"), ("iotlb.domain", "IOTLB domain"),
              ("iotlb.global", "IOTLB global"), ("desc.cc", "context cache"),
              ("desc.iec", "interrupt entry"), ("desc.devtlb", "device TLB"),
              ("desc.wait", "wait")]
NEED = {"kind", "workload", "policy", "param", "value", "mode"}


# ---------------------------------------------------------------- derived metrics ------

def num(row, key, default=0.0):
    v = row.get(key, "")
    if v in ("", None):
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def c(row, name, default=0.0):
    return num(row, "counters." + name, default)


def derive(row):
    """The per-run numbers the figures and tables show (a flat dict)."""
    capture = row["kind"] == "capture"
    ios = c(row, "dma.count") if capture else c(row, "host.dma_unmaps")
    per = 1.0 / ios if ios > 0 else float("nan")
    hits, misses = c(row, "iotlb.hits"), c(row, "iotlb.misses")
    closed = c(row, "protection.stale_windows_closed")
    size = num(row, "size", 0.0)
    gbps = c(row, "dma.throughput_gbps", float("nan"))
    ghz = num(row, "config.host.cpu_ghz", 2.4) or 2.4
    cpus = num(row, "config.host.cpus", 1.0) or 1.0
    cycles_per_io = c(row, "host.cycles") * per
    ns_per_io = size * 8 / gbps if size > 0 and gbps > 0 and not capture else float("nan")
    dt_hits, dt_misses = c(row, "devtlb.hits"), c(row, "devtlb.misses")
    ats_req = c(row, "ats.translation_requests")
    d = {
        "kind": row["kind"], "workload": row["workload"], "policy": row["policy"],
        "param": row.get("param", ""), "value": row.get("value", ""), "mode": row["mode"],
        "per": "DMA" if capture else "I/O",
        "ios": ios,
        "throughput_gbps": gbps,
        "kiops": gbps * 1e9 / 8 / size / 1e3 if size > 0 and not capture else float("nan"),
        "latency_p50_ns": c(row, "dma.latency_ns.p50", float("nan")),
        "latency_mean_ns": c(row, "dma.latency_ns.mean", float("nan")),
        "cycles_per_io": cycles_per_io,
        "cpus": cpus,
        "cpu_load": cycles_per_io / ghz / ns_per_io / cpus,
        "inv_desc_per_io": c(row, "inv.descriptors") * per,
        "flushes_per_io": c(row, "host.flushes") * per,
        "inv_wait_ns_mean": c(row, "inv.wait_ns.mean", float("nan")),
        "inv_pending_mean": c(row, "inv.queue.pending_mean", float("nan")),
        "inv_pending_max": c(row, "inv.queue.pending_max", float("nan")),
        "iotlb_hit_rate": hits / (hits + misses) if hits + misses > 0 else float("nan"),
        "walks_per_io": c(row, "walk.count") * per,
        "walk_reads_per_io": c(row, "walk.mem_reads") * per,
        "stale_windows": closed,
        "stale_max_us": c(row, "protection.stale_window_ns.max") / 1e3,
        "stale_mean_us": (c(row, "protection.stale_window_ns.sum") / closed / 1e3
                          if closed > 0 else 0.0),
        "stale_pages": c(row, "protection.stale_pages"),
        "stale_open_at_end": c(row, "protection.stale_open_at_end"),
        "stale_bytes_per_io": c(row, "protection.stale_bytes") * per,
        # windows opened per I/O: a page still in the IOTLB and, with ATS, one still in the
        # device-TLB (each cache's window counts: protection.stale_pages.devtlb of them)
        "stale_pages_per_io": c(row, "protection.stale_pages") * per,
        "stale_pages_devtlb_per_io": c(row, "protection.stale_pages.devtlb") * per,
        "stale_accesses": c(row, "protection.stale_accesses"),
        "subpage_bytes_per_io": c(row, "protection.subpage_exposed_bytes") * per,
        # DMA into the interrupt window: writes pass untranslated, reads are blocked
        "msi_window_chunks": (c(row, "interrupt_range.writes")
                              + c(row, "interrupt_range.reads_blocked")),
        "dma_errors": c(row, "dma.errors") + c(row, "dma.faulted"),
        "isolation": "none" if row["policy"] in NO_ISOLATION else "per buffer",
        # ATS (device.ats): the device-TLB's hit rate, translation requests per I/O
        "devtlb_hit_rate": (dt_hits / (dt_hits + dt_misses) if ats_req > 0
                            and dt_hits + dt_misses > 0 else float("nan")),
        "ats_requests_per_io": ats_req * per,
    }
    for part, _ in CYCLE_PARTS:
        d[f"cycles_{part}_per_io"] = c(row, f"host.cycles.{part}") * per
    for key, _ in DESC_TYPES:
        d[f"inv_{key}"] = c(row, f"inv.{key}")
    d["inv_desc"] = c(row, "inv.descriptors")
    return d


def _ordered(values, order):
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


# ---------------------------------------------------------------- policies figure ------

def _annotate_zero(ax, x, text, log):
    y = ax.get_ylim()[0] if log else 0
    ax.annotate(text, (x, y), xytext=(0, 2), textcoords="offset points", ha="center",
                va="bottom", fontsize=5.5, color="dimgrey", rotation=90)


def plot_policies(ds, stem, formats, dpi):
    rows = [d for d in ds if d["kind"] == "policy"]
    workloads = list(dict.fromkeys(d["workload"] for d in rows))
    policies = _ordered({d["policy"] for d in rows}, POLICY_ORDER)
    by = {(d["workload"], d["policy"]): d for d in rows}
    x = np.arange(len(workloads))
    width = 0.8 / len(policies)
    offs = {p: (i - (len(policies) - 1) / 2) * width for i, p in enumerate(policies)}

    panels = [  # (key, title, log, kind)
        ("throughput_gbps", "DMA throughput (Gb/s)", False, "bar"),
        ("rel_throughput", "DMA throughput, % of passthrough", False, "bar"),
        ("cpu_load_pct", "host CPU load, % (CPU time per I/O\n/ time per I/O; 100 = CPU-bound)",
         False, "bar"),
        ("latency", "DMA latency (ns)\n(bar: mean, dot: median)", False, "latency"),
        ("cycles", "CPU cycles per I/O, by component", False, "cycles"),
        ("inv_desc_per_io", "invalidation descriptors per I/O", True, "bar"),
        ("inv_wait_ns_mean", "mean invalidation wait (ns)\n(doorbell to status write)",
         False, "bar"),
        ("queue", "invalidation queue: descriptors pending\n(bar: mean, dot: max)", False,
         "queue"),
        ("iotlb_hit_rate", "IOTLB hit rate\n(lookups; misses incl. coalesced)", False, "bar"),
        ("walk_reads_per_io", "page-table reads per I/O", False, "bar"),
        ("stale_max_us", "longest stale window (µs)", True, "prot"),
        ("stale_mean_us", "mean stale window (µs)", True, "prot"),
        ("stale_bytes_per_io", "stale bytes per I/O\n(unmapped, still in the IOTLB)", False,
         "prot"),
        ("subpage_bytes_per_io", "sub-page exposure per I/O (bytes)", False, "prot"),
    ]
    if any(d["msi_window_chunks"] > 0 for d in rows):  # a simulator bug when not 0
        panels.append(("msi_window_chunks", "DMA chunks into the MSI window 0xFEE00000-\n"
                       "0xFEEFFFFF (writes pass, reads fail; should be 0)", False, "bar"))
    passthrough = {w: by[(w, "passthrough")]["throughput_gbps"] for w in workloads
                   if (w, "passthrough") in by}
    for (w, p), d in by.items():
        d["rel_throughput"] = (100.0 * d["throughput_gbps"] / passthrough[w]
                               if passthrough.get(w) else float("nan"))
        d["cpu_load_pct"] = 100.0 * d["cpu_load"]
    ncols = 4
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.0 * nrows), squeeze=False)
    for k, (key, title, log, kind) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        if log:
            ax.set_yscale("log")
        if kind == "cycles":
            for p in policies:
                bottom = np.zeros(len(workloads))
                for (part, _), color in zip(CYCLE_PARTS, CYCLE_COLORS):
                    vals = np.array([by[(w, p)][f"cycles_{part}_per_io"] if (w, p) in by
                                     else 0.0 for w in workloads])
                    ax.bar(x + offs[p], vals, width, bottom=bottom, color=color,
                           edgecolor="white", linewidth=0.3)
                    bottom += vals
                for i, w in enumerate(workloads):
                    if (w, p) in by:
                        ax.annotate(POLICY_LETTER.get(p, p[:1].upper()),
                                    (x[i] + offs[p], bottom[i]), xytext=(0, 1),
                                    textcoords="offset points", ha="center", va="bottom",
                                    fontsize=5.5)
            ax.legend(handles=[Patch(color=cc, label=name) for (_, name), cc
                               in zip(CYCLE_PARTS, CYCLE_COLORS)][::-1],
                      fontsize=6, frameon=False, loc="upper left")
        elif kind in ("queue", "latency"):
            bar_key, dot_key = (("inv_pending_mean", "inv_pending_max") if kind == "queue"
                                else ("latency_mean_ns", "latency_p50_ns"))
            for p in policies:
                mean = [by[(w, p)][bar_key] if (w, p) in by else np.nan for w in workloads]
                mx = [by[(w, p)][dot_key] if (w, p) in by else np.nan for w in workloads]
                ax.bar(x + offs[p], mean, width, color=POLICY_COLORS.get(p))
                ax.plot(x + offs[p], mx, "o", color="black", markersize=2.5)
        else:
            vals = {p: [by[(w, p)][key] if (w, p) in by else np.nan for w in workloads]
                    for p in policies}
            positive = [v for p in policies for v in vals[p] if v and v > 0 and
                        not math.isnan(v) and not (kind == "prot" and p in NO_ISOLATION)]
            for p in policies:
                v = np.array(vals[p], dtype=float)
                if kind == "prot" and p in NO_ISOLATION:
                    v = np.full(len(workloads), np.nan)
                plotv = np.where(v > 0, v, np.nan) if log else v
                ax.bar(x + offs[p], plotv, width, color=POLICY_COLORS.get(p))
            if log and positive:
                ax.set_ylim(min(positive) / 3, max(positive) * 3)
            # Zero (or no-isolation) values say so instead of leaving an empty slot.
            for p in policies:
                for i, w in enumerate(workloads):
                    v = vals[p][i]
                    if kind == "prot" and p in NO_ISOLATION:
                        _annotate_zero(ax, x[i] + offs[p], "no isolation", log)
                    elif v == 0 and (log or kind == "prot" or key == "inv_desc_per_io"):
                        _annotate_zero(ax, x[i] + offs[p], "0", log)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels(workloads, fontsize=7, rotation=20, ha="right")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", which="major", alpha=0.3)
        if not log:
            ax.set_ylim(bottom=0)
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    handles = [Patch(color=POLICY_COLORS.get(p), label=p) for p in policies]
    height = fig.get_figheight()
    fig.suptitle("OS invalidation policies on map/unmap workloads (iommusim, timed, "
                 "Haswell-EP preset)", y=1 - 0.10 / height, fontsize=11)
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7,
               bbox_to_anchor=(0.5, 1 - 0.32 / height), frameon=False)
    fig.text(0.5, 0.002, "Cycle stacks: S strict, B batched, L lazy, I identity, "
             "P passthrough.  \"no isolation\": passthrough and identity unmap nothing, so "
             "nothing goes stale, but the device can reach all memory at all times.", ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1 - 0.62 / height))
    return stats.save_figure(fig, f"{stem}_policies", formats, dpi)


# ---------------------------------------------------------------- sweep figure ---------

def plot_sweep(ds, raw, stem, formats, dpi):
    rows = [d for d in ds if d["kind"] == "sweep"]
    params = _ordered({d["param"] for d in rows}, ["host.lazy.high_water", "host.batch"])
    workloads = list(dict.fromkeys(d["workload"] for d in rows))
    strict = {d["workload"]: d for d in ds if d["kind"] == "policy" and d["policy"] == "strict"}
    panels = [("throughput_gbps", "DMA throughput (Gb/s)", False),
              ("cycles_per_io", "CPU cycles per I/O", False),
              ("inv_desc_per_io", "invalidation descriptors per I/O", True),
              ("stale_pages_per_io", "stale pages per I/O\n(unmapped, still in the IOTLB)",
               False),
              ("stale_mean_us", "mean stale window (µs)", True),
              ("stale_max_us", "longest stale window (µs)", True)]
    if any(d["msi_window_chunks"] > 0 for d in rows):
        panels.append(("msi_window_chunks",
                       "DMA chunks into the MSI window\n0xFEE00000-0xFEEFFFFF (should be 0)",
                       False))
    names = {"host.lazy.high_water": "lazy: flush-queue high-water mark (entries)",
             "host.batch": "batched: unmaps per range invalidation"}
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(len(panels), len(params),
                             figsize=(5.0 * len(params), 2.5 * len(panels)), squeeze=False,
                             sharex="col", sharey="row")
    timeouts = {num(r, "config.host.lazy.timeout_ns", float("nan")) for r in raw
                if r["kind"] == "sweep"}
    for j, param in enumerate(params):
        xs_all = sorted({int(d["value"]) for d in rows if d["param"] == param})
        for i, (key, title, log) in enumerate(panels):
            ax = axes[i][j]
            for k, w in enumerate(workloads):
                pts = sorted((int(d["value"]), d[key]) for d in rows
                             if d["param"] == param and d["workload"] == w)
                if not pts:
                    continue
                xv, yv = (np.array(t, dtype=float) for t in zip(*pts))
                if log:
                    yv = np.where(yv > 0, yv, np.nan)
                ax.plot(xv, yv, marker="o", markersize=3.5, markerfacecolor="none",
                        linewidth=1.3, color=colors(k), label=w)
                if key in ("throughput_gbps", "cycles_per_io", "inv_desc_per_io") \
                        and w in strict:
                    ax.axhline(strict[w][key], color=colors(k), linestyle="--",
                               linewidth=0.9, alpha=0.8)
            if key == "stale_max_us" and param == "host.lazy.high_water":
                for t in sorted(timeouts):
                    if not math.isnan(t):
                        ax.axhline(t / 1e3, color="grey", linestyle=":", linewidth=1)
                        ax.annotate(f"flush timer {t / 1e6:g} ms", (0.02, t / 1e3),
                                    xycoords=("axes fraction", "data"), xytext=(0, -9),
                                    textcoords="offset points", fontsize=7, color="grey")
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(FixedLocator(xs_all))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(v) for v in xs_all], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            if log:
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0)
            ax.grid(True, which="major", alpha=0.3)
            if j == 0:
                ax.set_ylabel(title, fontsize=8)
            if i == 0:
                ax.set_title(names.get(param, param), fontsize=9)
            if i == len(panels) - 1:
                ax.set_xlabel(names.get(param, param), fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    height = fig.get_figheight()
    fig.suptitle("Lazy high-water mark and batch size (dashed: strict on the same workload)",
                 y=1 - 0.10 / height, fontsize=11)
    fig.legend(handles, labels, loc="upper center", ncol=max(1, len(labels)), fontsize=8,
               bbox_to_anchor=(0.5, 1 - 0.32 / height), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    return stats.save_figure(fig, f"{stem}_sweep", formats, dpi)


# ---------------------------------------------------------------- variants figure ------

def _variant_groups(ds):
    """[(workload, [(label, {policy: row})])]: each variant's workload, its plain policy runs
    first (when there), then its variants in the order of the CSV."""
    rows = [d for d in ds if d["kind"] == "variant"]
    out = []
    for w in dict.fromkeys(d["workload"] for d in rows):
        groups = []
        base = {d["policy"]: d for d in ds if d["kind"] == "policy" and d["workload"] == w}
        if base:
            groups.append((f"{w} as in the policy runs", base))
        for v in dict.fromkeys(d["value"] for d in rows if d["workload"] == w):
            mine = [d for d in rows if d["workload"] == w and d["value"] == v]
            groups.append((f"{w}, {v} ({mine[0]['param']})" if mine[0]["param"] else
                           f"{w}, {v}", {d["policy"]: d for d in mine}))
        out.append((w, groups))
    return out


def plot_variants(ds, stem, formats, dpi):
    blocks = _variant_groups(ds)
    panels = [  # (key, title, log, kind)
        ("throughput_gbps", "DMA throughput (Gb/s)", False, "bar"),
        ("cpu_load_pct", "host CPU load per CPU, %\n(100 = CPU-bound)", False, "bar"),
        ("cycles_per_io", "CPU cycles per I/O\n(hatched: waiting for invalidation)", False,
         "cycles"),
        ("inv_wait_ns_mean", "mean invalidation wait (ns)\n(doorbell to status write)", False,
         "bar"),
        ("queue", "invalidation queue: descriptors pending\n(bar: mean, dot: max)", False,
         "queue"),
        ("latency_mean_ns", "mean DMA latency (ns)", False, "bar"),
        ("stale_pages_per_io", "stale windows per I/O: unmapped pages still\ncached "
         "(hatched: in the device-TLB)", False, "prot"),
        ("stale_max_us", "longest stale window (µs)", True, "prot"),
        ("inv_desc_per_io", "invalidation descriptors per I/O\n(incl. device-TLB ones)", True,
         "bar"),
        ("devtlb_hit_rate", "device-TLB hit rate (ATS only)", False, "bar"),
    ]
    ncols = 5
    nrows_per = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows_per * len(blocks), ncols,
                             figsize=(4.2 * ncols, 3.1 * nrows_per * len(blocks)),
                             squeeze=False)
    gcolors = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]
    handles = {}
    for b, (w, groups) in enumerate(blocks):
        policies = _ordered({p for _, g in groups for p in g}, POLICY_ORDER)
        x = np.arange(len(policies))
        width = 0.8 / len(groups)
        for g, (label, rows) in enumerate(groups):
            for d in rows.values():
                d["cpu_load_pct"] = 100.0 * d["cpu_load"]
        for k, (key, title, log, kind) in enumerate(panels):
            ax = axes[b * nrows_per + k // ncols][k % ncols]
            if log:
                ax.set_yscale("log")
            positive = []
            for g, (label, rows) in enumerate(groups):
                xs = x + (g - (len(groups) - 1) / 2) * width
                color = gcolors[g % len(gcolors)]
                bar_key = "inv_pending_mean" if kind == "queue" else key
                v = np.array([rows[p][bar_key] if p in rows else np.nan for p in policies],
                             dtype=float)
                if kind == "prot":
                    v = np.array([np.nan if p in NO_ISOLATION else val
                                  for p, val in zip(policies, v)])
                positive += [t for t in v if t > 0 and not math.isnan(t)]
                h = ax.bar(xs, np.where(v > 0, v, np.nan) if log else v, width, color=color)
                handles.setdefault(g, (h, label if len(blocks) == 1 else
                                       label.split(", ", 1)[-1]))
                if kind == "queue":
                    ax.plot(xs, [rows[p]["inv_pending_max"] if p in rows else np.nan
                                 for p in policies], "o", color="black", markersize=2.5)
                part = {"cycles_per_io": "cycles_wait_per_io",
                        "stale_pages_per_io": "stale_pages_devtlb_per_io"}.get(key)
                if part:  # the hatched share
                    hv = [rows[p][part] if p in rows and not (kind == "prot" and
                                                              p in NO_ISOLATION) else np.nan
                          for p in policies]
                    ax.bar(xs, hv, width, color="none", edgecolor="black", hatch="////",
                           linewidth=0)
                for i, p in enumerate(policies):
                    if p not in rows:
                        continue
                    if kind == "prot" and p in NO_ISOLATION:
                        _annotate_zero(ax, xs[i], "no isolation", log)
                    elif rows[p][bar_key] == 0 and (log or kind == "prot"):
                        _annotate_zero(ax, xs[i], "0", log)
            if log and positive:
                ax.set_ylim(min(positive) / 3, max(positive) * 3)
            elif not log:
                ax.set_ylim(bottom=0)
            ax.set_title(title if len(blocks) == 1 else f"{w}: {title}", fontsize=9)
            ax.set_xticks(x)
            ax.set_xticklabels(policies, fontsize=7, rotation=20, ha="right")
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(True, axis="y", which="major", alpha=0.3)
        for k in range(len(panels), nrows_per * ncols):
            axes[b * nrows_per + k // ncols][k % ncols].axis("off")
    height = fig.get_figheight()
    fig.suptitle("Variants: more driver CPUs, ATS (iommusim, timed, Haswell-EP preset)",
                 y=1 - 0.10 / height, fontsize=11)
    hs = [handles[g] for g in sorted(handles)]
    fig.legend([h for h, _ in hs], [lab for _, lab in hs], loc="upper center",
               ncol=len(hs), fontsize=8, bbox_to_anchor=(0.5, 1 - 0.32 / height),
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.62 / height))
    return stats.save_figure(fig, f"{stem}_variants", formats, dpi)


# ---------------------------------------------------------------- captures figure ------

def plot_captures(ds, stem, formats, dpi):
    rows = [d for d in ds if d["kind"] == "capture"]
    caps = list(dict.fromkeys(d["workload"] for d in rows))
    timed = {d["workload"]: d for d in rows if d["mode"] == "timed"}
    func = {d["workload"]: d for d in rows if d["mode"] == "functional"}
    ref = {c: timed.get(c) or func.get(c) for c in caps}
    x = np.arange(len(caps))
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8), squeeze=False)
    axes = axes[0]

    ax = axes[0]
    dcolors = plt.get_cmap("Set2")
    types = [(k, n) for k, n in DESC_TYPES if any(ref[cp][f"inv_{k}"] for cp in caps)]
    bw = 0.8 / max(1, len(types))
    for k, (key, name) in enumerate(types):
        vals = np.array([ref[cp][f"inv_{key}"] for cp in caps], dtype=float)
        ax.bar(x + (k - (len(types) - 1) / 2) * bw, np.where(vals > 0, vals, np.nan), bw,
               color=dcolors(k), label=name)
    ax.set_yscale("log")
    top = max(max(ref[cp]["inv_desc"] for cp in caps), 1)
    ax.set_ylim(0.5, top * 100)
    ax.set_title("invalidation descriptors, by type (log)", fontsize=9)
    ax.legend(fontsize=6, frameon=False, loc="upper right", ncol=2)

    ax = axes[1]
    w = 0.38
    for off, src, label, color in ((-w / 2, timed, "timed (per lookup)", "#4c72b0"),
                                   (w / 2, func, "functional (per translation)", "#dd8452")):
        vals = [src[cp]["iotlb_hit_rate"] if cp in src else np.nan for cp in caps]
        ax.bar(x + off, vals, w, color=color, label=label)
        for i, v in enumerate(vals):
            if not math.isnan(v):
                ax.annotate(f"{100 * v:.1f}%", (x[i] + off, v), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)
    ax.set_ylim(0, 1.25)
    ax.set_title("IOTLB hit rate", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="upper right", ncol=2)

    ax = axes[2]
    for off, key, label, color in ((-w / 2, "stale_max_us", "longest", "#c44e52"),
                                   (w / 2, "stale_mean_us", "mean", "#8172b2")):
        vals = np.array([timed[cp][key] if cp in timed else np.nan for cp in caps])
        ax.bar(x + off, np.where(vals > 0, vals, np.nan), w, color=color, label=label)
        for i, v in enumerate(vals):
            if not math.isnan(v):
                ax.annotate(f"{v:.3g}", (x[i] + off, v if v > 0 else 1e-3), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)
    ax.set_yscale("log")
    ax.set_title("stale windows (µs, timed replay: from the recorded\nunmap to the "
                 "invalidation that covers the page)", fontsize=9)
    ax.legend(fontsize=7, frameon=False)

    ax = axes[3]
    for off, key, label, color in ((-w / 2, "stale_pages", "stale pages (windows opened)",
                                    "#55a868"),
                                   (w / 2, "stale_accesses", "DMAs through a stale entry",
                                    "#c44e52")):
        vals = [timed[cp][key] if cp in timed else np.nan for cp in caps]
        ax.bar(x + off, vals, w, color=color, label=label)
        for i, v in enumerate(vals):
            if not math.isnan(v):
                ax.annotate(f"{int(v)}", (x[i] + off, v), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)
    ax.set_title("protection (timed replay)", fontsize=9)
    ax.set_ylim(0, max([1.0] + [timed[cp]["stale_pages"] for cp in caps if cp in timed]) * 1.3)
    ax.legend(fontsize=7, frameon=False, loc="upper right", ncol=2)
    for k, ax in enumerate(axes):
        ax.set_xticks(x)
        if k == 0:  # the descriptor totals under the names
            ax.set_xticklabels([f"{cp}\n{int(ref[cp]['inv_desc'])} in all, "
                                f"{ref[cp]['inv_desc_per_io']:.3f}/DMA" for cp in caps],
                               fontsize=7)
        else:
            ax.set_xticklabels(caps, fontsize=8, rotation=10)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Real Linux 6.1 captures (QEMU VT-d), replayed as recorded", fontsize=11)
    fig.tight_layout()
    return stats.save_figure(fig, f"{stem}_captures", formats, dpi)


# ---------------------------------------------------------------- tables ---------------

SUMMARY_COLS = ["kind", "workload", "policy", "param", "value", "mode", "per", "ios",
                "throughput_gbps", "kiops", "cpus", "cpu_load", "latency_p50_ns",
                "latency_mean_ns", "cycles_per_io"] + [f"cycles_{p}_per_io" for p, _ in CYCLE_PARTS] + [
                "inv_desc", "inv_desc_per_io", "flushes_per_io", "inv_wait_ns_mean",
                "inv_pending_mean", "inv_pending_max", "iotlb_hit_rate", "walks_per_io",
                "walk_reads_per_io", "stale_windows", "stale_max_us", "stale_mean_us",
                "stale_pages", "stale_open_at_end", "stale_bytes_per_io", "stale_accesses",
                "stale_pages_per_io", "stale_pages_devtlb_per_io", "subpage_bytes_per_io", "msi_window_chunks",
                "dma_errors", "isolation", "devtlb_hit_rate", "ats_requests_per_io"] + [
                f"inv_{k}" for k, _ in DESC_TYPES]


def write_tables(ds, stem):
    path_csv = f"{stem}_summary.csv"
    with open(path_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLS, extrasaction="ignore",
                           lineterminator="\n")
        w.writeheader()
        for d in ds:
            w.writerow({k: ("" if isinstance(d.get(k), float) and math.isnan(d[k])
                            else d.get(k, "")) for k in SUMMARY_COLS})
    lines = []

    def table(title, cols, rows):
        lines.append(f"### {title}\n")
        lines.append("| " + " | ".join(h for h, _ in cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for d in rows:
            lines.append("| " + " | ".join(fn(d) for _, fn in cols) + " |")
        lines.append("")

    def col(key, scale=1.0, digits=3):
        return lambda d: stats.fmt(d[key] * scale if isinstance(d[key], float) else d[key], digits)

    pol = [d for d in ds if d["kind"] == "policy"]
    if pol:
        order = {p: i for i, p in enumerate(POLICY_ORDER)}
        wl = list(dict.fromkeys(d["workload"] for d in pol))
        pol.sort(key=lambda d: (wl.index(d["workload"]), order.get(d["policy"], 99)))
        table("Policies (per I/O; timed)", [
            ("workload", lambda d: d["workload"]), ("policy", lambda d: d["policy"]),
            ("Gb/s", col("throughput_gbps")), ("kIOPS", col("kiops")),
            ("CPU load %", col("cpu_load", 100)),
            ("mean lat. ns", col("latency_mean_ns")), ("p50 lat. ns", col("latency_p50_ns")),
            ("cycles/I/O", col("cycles_per_io")), ("map", col("cycles_map_per_io")), ("unmap", col("cycles_unmap_per_io")),
            ("iova", col("cycles_iova_per_io")), ("submit", col("cycles_submit_per_io")),
            ("wait", col("cycles_wait_per_io")),
            ("desc/I/O", col("inv_desc_per_io")), ("inv wait ns", col("inv_wait_ns_mean")),
            ("queue mean/max", lambda d: f"{stats.fmt(d['inv_pending_mean'])}/"
                                         f"{stats.fmt(d['inv_pending_max'])}"),
            ("IOTLB hit %", col("iotlb_hit_rate", 100)),
            ("PT reads/I/O", col("walk_reads_per_io")),
            ("stale max µs", col("stale_max_us")), ("stale mean µs", col("stale_mean_us")),
            ("stale B/I/O", col("stale_bytes_per_io")),
            ("sub-page B/I/O", col("subpage_bytes_per_io")),
            ("MSI-window chunks", col("msi_window_chunks")),
            ("DMA errors", col("dma_errors")),
        ], pol)
    sw = [d for d in ds if d["kind"] == "sweep"]
    if sw:
        sw.sort(key=lambda d: (d["workload"], d["param"], int(d["value"])))
        table("Sweeps (per I/O; timed)", [
            ("workload", lambda d: d["workload"]), ("policy", lambda d: d["policy"]),
            ("key", lambda d: d["param"]), ("value", lambda d: str(d["value"])),
            ("Gb/s", col("throughput_gbps")), ("cycles/I/O", col("cycles_per_io")),
            ("desc/I/O", col("inv_desc_per_io")), ("mean lat. ns", col("latency_mean_ns")),
            ("PT reads/I/O", col("walk_reads_per_io")),
            ("stale max µs", col("stale_max_us")), ("stale mean µs", col("stale_mean_us")),
            ("MSI-window chunks", col("msi_window_chunks")),
            ("DMA errors", col("dma_errors")),
        ], sw)
    vr = []
    for _, groups in _variant_groups(ds):
        for label, rows in groups:
            vr += [dict(d, variant=("–" if d["kind"] == "policy" else d["value"]))
                   for p, d in sorted(rows.items(),
                                      key=lambda t: POLICY_ORDER.index(t[0])
                                      if t[0] in POLICY_ORDER else 99)]
    if vr:
        table("Variants (per I/O; timed; – = the workload's policy run)", [
            ("workload", lambda d: d["workload"]), ("variant", lambda d: d["variant"]),
            ("keys", lambda d: d["param"] if d["kind"] == "variant" else ""),
            ("policy", lambda d: d["policy"]),
            ("Gb/s", col("throughput_gbps")), ("CPU load %", col("cpu_load", 100)),
            ("cycles/I/O", col("cycles_per_io")), ("wait cycles", col("cycles_wait_per_io")),
            ("desc/I/O", col("inv_desc_per_io")), ("inv wait ns", col("inv_wait_ns_mean")),
            ("queue mean/max", lambda d: f"{stats.fmt(d['inv_pending_mean'])}/"
                                         f"{stats.fmt(d['inv_pending_max'])}"),
            ("mean lat. ns", col("latency_mean_ns")),
            ("PT reads/I/O", col("walk_reads_per_io")),
            ("stale pages/I/O", col("stale_pages_per_io")),
            ("of them devTLB", col("stale_pages_devtlb_per_io")),
            ("stale max µs", col("stale_max_us")), ("stale mean µs", col("stale_mean_us")),
            ("devTLB hit %", col("devtlb_hit_rate", 100)),
            ("ATS req/I/O", col("ats_requests_per_io")),
            ("DMA errors", col("dma_errors")),
        ], vr)
    cp = [d for d in ds if d["kind"] == "capture"]
    if cp:
        table("Captures (replayed as recorded)", [
            ("capture", lambda d: d["workload"]), ("mode", lambda d: d["mode"]),
            ("DMAs", col("ios")), ("descriptors", col("inv_desc")),
            ("IOTLB page", col("inv_iotlb.page")), ("IOTLB domain", col("inv_iotlb.domain")),
            ("IOTLB global", col("inv_iotlb.global")), ("cc", col("inv_desc.cc")),
            ("IEC", col("inv_desc.iec")), ("wait", col("inv_desc.wait")),
            ("desc/DMA", col("inv_desc_per_io")),
            ("IOTLB hit %", col("iotlb_hit_rate", 100)), ("walks", lambda d: stats.fmt(
                d["walks_per_io"] * d["ios"])),
            ("stale pages", col("stale_pages")), ("stale max µs", col("stale_max_us")),
            ("stale mean µs", col("stale_mean_us")),
            ("stale accesses", col("stale_accesses")),
        ], cp)
    path_md = f"{stem}_summary.md"
    with open(path_md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return [path_csv, path_md]


# ---------------------------------------------------------------- main -----------------

def main(argv=None):
    p = argparse.ArgumentParser(
        description="Figures and tables of the invalidation-policies study.")
    p.add_argument("csv", help="CSV from the invalidation-policies collect step")
    p.add_argument("-o", "--out", default="invalidation",
                   help="output stem (default: invalidation): STEM_policies.png, ...")
    p.add_argument("--formats", default="png,pdf", help="comma-separated (default: png,pdf)")
    p.add_argument("--dpi", type=int, default=150)
    a = p.parse_args(argv)
    rows = stats.read_csv(a.csv, numeric=False)
    if not rows or not NEED <= set(rows[0]):
        raise SystemExit(f"{a.csv}: expected columns {sorted(NEED)} and at least one row")
    kinds = {r["kind"] for r in rows}
    if not kinds & {"policy", "sweep", "variant", "capture"}:
        raise SystemExit(f"{a.csv}: no rows of kind policy, sweep, variant or capture")
    ds = [derive(r) for r in rows]
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    d = os.path.dirname(a.out)
    if d:
        os.makedirs(d, exist_ok=True)
    written = []
    if "policy" in kinds:
        written += plot_policies(ds, a.out, formats, a.dpi)
    if "sweep" in kinds:
        written += plot_sweep(ds, rows, a.out, formats, a.dpi)
    if "variant" in kinds:
        written += plot_variants(ds, a.out, formats, a.dpi)
    if "capture" in kinds:
        written += plot_captures(ds, a.out, formats, a.dpi)
    written += write_tables(ds, a.out)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
