#!/usr/bin/env python3
"""Plot the dma-window-sweep experiment (experiments/dma-window-sweep).

Reads the CSV written by the workflow's collect step (one row per run: mode, op, size,
window_bytes, metric, then the flattened stats JSON) and draws, for each operation (read,
write) and each IOMMU mode (4 KB pages, 2 MB pages, IOMMU off):

  * throughput (Gb/s of DMA data) vs window, from the runs with metric = tput
    (many DMAs in flight);
  * median DMA latency (ns) vs window, from the runs with metric = lat (one DMA in flight);

one line per DMA size, window on a log2 axis. A dotted vertical line marks the IOTLB reach
(entries x page size) where it falls inside the plotted windows.

    python3 analysis/plot_window_sweep.py out/window_sweep.csv -o out/window_sweep
      -> out/window_sweep.png, out/window_sweep.pdf
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

MODE_TITLES = {"4K": "IOMMU on, 4 KB pages", "2M": "IOMMU on, 2 MB pages",
               "off": "IOMMU off"}
MODE_ORDER = ["4K", "2M", "off"]
PAGE_BYTES = {"4K": 4 << 10, "2M": 2 << 20}
MARKERS = ["o", "s", "^", "D", "v", "P"]
LINESTYLES = ["-", "--", "-.", ":"]
TPUT = "counters.dma.throughput_gbps"
LAT = "counters.dma.latency_ns.{}"


def human_bytes(n):
    n = int(n)
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def series(rows, mode, op, metric, column):
    """{size: (windows, values)} sorted by window, for one panel."""
    out = {}
    for r in rows:
        if r["mode"] == mode and r["op"] == op and r["metric"] == metric:
            if column not in r or r[column] == "":
                raise SystemExit(f"CSV has no value for {column} (mode {mode}, op {op})")
            out.setdefault(int(r["size"]), []).append((int(r["window_bytes"]),
                                                        float(r[column])))
    return {s: tuple(np.array(v) for v in zip(*sorted(pts)))
            for s, pts in sorted(out.items())}


def iotlb_reach(rows, mode):
    """Bytes the IOTLB covers in this mode, or None (IOMMU off / unknown)."""
    if mode not in PAGE_BYTES:
        return None
    for r in rows:
        if r["mode"] == mode:
            split = str(r.get("config.iotlb.split", "")).lower() in ("true", "1")
            key = "config.iotlb_2m.entries" if (split and mode == "2M") \
                else "config.iotlb.entries"
            if r.get(key, "") == "":
                return None
            return int(r[key]) * PAGE_BYTES[mode]
    return None


def plot(rows, stem, formats, latency_stat="p50", dpi=150, title=None):
    ops = [o for o in ("read", "write") if any(r["op"] == o for r in rows)]
    modes = [m for m in MODE_ORDER if any(r["mode"] == m for r in rows)]
    if not ops or not modes:
        raise SystemExit("CSV has no rows with a known op (read/write) and mode (4K/2M/off)")
    sizes = sorted({int(r["size"]) for r in rows})
    windows = sorted({int(r["window_bytes"]) for r in rows})
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(sizes)))
    color_of = dict(zip(sizes, colors))
    lat_col = LAT.format(latency_stat)
    lat_name = "median" if latency_stat == "p50" else latency_stat

    panels = []  # (metric, column, ylabel, op)
    for op in ops:
        panels.append(("tput", TPUT, f"{op} throughput (Gb/s)", op))
    for op in ops:
        panels.append(("lat", lat_col, f"{op} {lat_name} latency (ns)", op))

    fig, axes = plt.subplots(len(panels), len(modes), figsize=(4.2 * len(modes),
                             2.9 * len(panels)), squeeze=False, sharex=True, sharey="row")
    ticks = [w for w in windows if int(np.log2(w)) % 2 == 0] or windows
    for i, (metric, column, ylabel, op) in enumerate(panels):
        for j, mode in enumerate(modes):
            ax = axes[i][j]
            for size, (x, y) in series(rows, mode, op, metric, column).items():
                k = sizes.index(size)
                # Hollow markers of different shapes and dash styles keep lines that
                # coincide (e.g. link-bound sizes) distinguishable.
                ax.plot(x, y, marker=MARKERS[k % len(MARKERS)], markersize=4.5,
                        markerfacecolor="none", linestyle=LINESTYLES[k % len(LINESTYLES)],
                        linewidth=1.3, color=color_of[size], label=f"{size} B")
            reach = iotlb_reach(rows, mode)
            if reach is not None and windows[0] <= reach <= windows[-1]:
                ax.axvline(reach, color="grey", linestyle=":", linewidth=1)
                if i == 0:
                    ax.annotate(f"IOTLB reach {human_bytes(reach)}", (reach, 0.03),
                                xycoords=("data", "axes fraction"), xytext=(3, 0),
                                textcoords="offset points", fontsize=7, color="grey")
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([human_bytes(t) for t in ticks], fontsize=7)
            ax.tick_params(axis="y", labelsize=8)
            ax.grid(True, which="major", alpha=0.3)
            if i == 0:
                ax.set_title(MODE_TITLES[mode], fontsize=10)
            if j == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            if i == len(panels) - 1:
                ax.set_xlabel("DMA window (bytes)", fontsize=9)
        # Throughput rows start at 0; latency rows keep matplotlib's range.
        if metric == "tput":
            axes[i][0].set_ylim(bottom=0)
    # Title and legend in a band of fixed height above the panels.
    height = fig.get_figheight()
    band = 0.78 / height
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title or "Random DMA over a window (pcie-bench IOMMU test), iommusim",
                 y=1 - 0.12 / height, fontsize=11)
    fig.legend(handles, labels, loc="upper center", ncol=len(sizes), fontsize=9,
               title="DMA size", title_fontsize=9, bbox_to_anchor=(0.5, 1 - 0.38 / height),
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - band))
    return stats.save_figure(fig, stem, formats, dpi)


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Throughput and median latency vs DMA window, one line per DMA size.")
    p.add_argument("csv", help="CSV from the dma-window-sweep collect step")
    p.add_argument("-o", "--out", default="window_sweep",
                   help="output path without extension (default: window_sweep)")
    p.add_argument("--formats", default="png,pdf", help="comma-separated (default: png,pdf)")
    p.add_argument("--latency-stat", default="p50", choices=["p50", "p90", "p99", "mean"],
                   help="latency statistic of the lat runs (default: p50, the median)")
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--title", default=None)
    a = p.parse_args(argv)
    rows = stats.read_csv(a.csv, numeric=False)
    need = {"mode", "op", "size", "window_bytes", "metric"}
    if not rows or not need <= set(rows[0]):
        raise SystemExit(f"{a.csv}: expected columns {sorted(need)} and at least one row")
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    for path in plot(rows, a.out, formats, a.latency_stat, a.dpi, a.title):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
