#!/usr/bin/env python3
"""Plot the IPI-savings study (experiments/ipi-savings).

Reads only the stats JSON files of the study's runs (docs/stats.md), given as files or as
folders searched for *.json. Each file's identity comes from its path, as the workflow
writes it:

    .../<experiment>/<workload>/<schedule>/m<M>/<scheme>.json

  experiment  migration (bare metal, generated streams), schedule (VM, generated streams) or
              captures (real Linux captures, synthetic scheduler)
  workload    the generator's pattern (nvme, nic) or the capture's name
  schedule    bare, or h<halted>-p<preempted>: the probabilities that the consumer vCPU is
              halted / preempted when an interrupt arrives (running: the rest)
  M           migrate-every: a consumer moves to another CPU every M of its interrupts
              (0: never)
  scheme      irq.scheme: static, remap (baseline static), vm-exit, posted (baseline vm-exit)

and is checked against the file's own config (irq.scheme; sched.* for synthetic-scheduler
runs). Writes, for an output stem S:

  S.csv                  one row per run: its identity, the irq.* counters it uses, and the
                         derived numbers the figures show (per interrupt, per 1000
                         interrupts, per I/O)
  S_summary.md           the tables the README's numbers come from
  S_migration.{png,pdf}  (experiment migration) net saving per interrupt and per I/O, IPIs
                         sent and IRTE retargets per 1000 interrupts, latency p50/p99,
                         against the migration rate, per pattern and scheme
  S_schedule.{png,pdf}   (experiment schedule) VM exits and IPIs per 1000 interrupts, net
                         saving per interrupt, latency p50/p99 per vCPU schedule, per
                         pattern, scheme and migration rate
  S_captures.{png,pdf}   (experiment captures) per capture: net saving per interrupt, IPIs /
                         VM exits per 1000 interrupts, per scheme, migration rate, schedule

A figure whose runs are absent is not written.

    python3 analysis/plot_irq.py out/runs -o out/irq

Definitions (the counters are the run's, after its warm-up if any):
  per interrupt       divided by counters.irq.delivered
  per I/O             divided by counters.irq.ios (the I/Os the interrupts complete)
  per 1000            1000 x count / irq.delivered
  latency p50, p99    irq.latency_ns.p50/.p99 (timed runs): exact to 1 ns below 1 ms, to
                      100 us (the lower edge of the bin) from 1 ms to 1 s; a percentile
                      beyond the histogram's end (1 s; 1 ms in stats files from before
                      iommusim 36afd60) is shown as a bound, "≥ 1,000,000,000"
  still deferred      irq.pending: interrupts deferred for a preempted vCPU that had not run
                      again when the trace ended (delivered, but without a latency)
  break-even IPI cost (remap rows) irq.retarget_cycles / irq.ipis_avoided: remap and static
                      differ only in the IPIs (cycles saved = IPIs avoided x irq.cycles.ipi),
                      so with IPIs cheaper than this retargeting costs more than it saves
  net saving          irq.net_cycles_saved = (baseline delivery cycles - the scheme's delivery
                      cycles) - the cycles spent keeping the interrupts targeted (IRTE
                      rewrites with their IEC invalidations, PID updates); the baseline of
                      static and remap is static, of vm-exit and posted vm-exit, so a
                      baseline scheme's own saving is 0
"""

import argparse
import csv
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

EXPERIMENTS = ("migration", "schedule", "captures")
SCHEME_ORDER = ["static", "remap", "vm-exit", "posted"]
BASELINE = {"static": "static", "remap": "static", "vm-exit": "vm-exit", "posted": "vm-exit"}
SETTING = {"static": "bare metal", "remap": "bare metal", "vm-exit": "VM", "posted": "VM"}
SCHEME_COLORS = {"static": "#7f8c8d", "remap": "#c0392b", "vm-exit": "#2980b9",
                 "posted": "#27ae60"}
PATHS = ("direct", "ipi", "vm_exit", "posted", "wakeup", "deferred")
SCHED_RE = re.compile(r"^h(?P<h>[0-9.]+)-p(?P<p>[0-9.]+)$")

# Counters copied into the CSV: (column, counter name)
COUNTERS = [
    ("requests", "irq.requests"), ("delivered", "irq.delivered"), ("ios", "irq.ios"),
    ("faults", "irq.faults"), ("remapped", "irq.remapped"), ("posted", "irq.posted"),
    ("notifications", "irq.notifications"),
    ("ipis", "irq.ipis"), ("ipis_avoided", "irq.ipis_avoided"),
    ("vm_exits", "irq.vm_exits"), ("vm_exits_avoided", "irq.vm_exits_avoided"),
    ("retargets", "irq.retargets"), ("pid_updates", "irq.pid_updates"),
    ("cycles", "irq.cycles"), ("baseline_cycles", "irq.baseline_cycles"),
    ("cycles_saved", "irq.cycles_saved"), ("retarget_cycles", "irq.retarget_cycles"),
    ("net_cycles_saved", "irq.net_cycles_saved"),
    ("sim_net_saving_per_irq", "irq.net_saving_per_irq"),
    ("sim_net_saving_per_io", "irq.net_saving_per_io"),
    ("iec_hits", "iec.hits"), ("iec_misses", "iec.misses"),
    ("latency_p50_ns", "irq.latency_ns.p50"), ("latency_p99_ns", "irq.latency_ns.p99"),
    ("latency_mean_ns", "irq.latency_ns.mean"), ("latency_max_ns", "irq.latency_ns.max"),
    ("pending", "irq.pending"),
] + [(f"path_{p}", f"irq.path.{p}") for p in PATHS]

# The latency histogram (irq.latency_ns, docs/stats.md) has 1 ns bins up to overflow_from_ns
# (1 ms: "bins", whose last entry is the overflow bin) and, in stats files written since
# iommusim 36afd60, the values from 1 ms on again in coarse_bucket_width_ns (100 us) bins up to
# 1 s ("coarse_bins", whose entry at 1 s is their overflow bin). iommusim's percentiles are the
# lower edge of the bin holding the quantile: exact to 1 ns below 1 ms, to 100 us up to 1 s;
# beyond the last bin (1 s; 1 ms in older files without coarse_bins) they are the run's
# maximum. latency_overflow_from_ns is that last edge and latency_overflow_frac the share of
# interrupts beyond it: where it is > 1 - q, the q-percentile is only known to be
# >= latency_overflow_from_ns (shown as a bound). latency_over_1ms_frac: the share >= 1 ms.
COARSE_END_NS = 1000000000  # the coarse bins end at 1 s (docs/stats.md)
LATENCY_EXTRA = ["latency_overflow_from_ns", "latency_overflow_frac", "latency_over_1ms_frac"]

IDENTITY = ["experiment", "workload", "schedule", "running", "halted", "preempted",
            "migrate_every", "scheme", "baseline", "setting", "mode", "sched_model"]
DERIVED = ["ipis_per_1k", "ipis_avoided_per_1k", "vm_exits_per_1k",
           "vm_exits_avoided_per_1k", "retargets_per_1k", "pid_updates_per_1k",
           "cycles_per_irq", "baseline_cycles_per_irq", "cycles_saved_per_irq",
           "retarget_cycles_per_irq", "net_saving_per_irq", "net_saving_per_io",
           "ios_per_irq", "iec_hit_rate", "break_even_ipi_cycles"] + [f"path_{p}_per_1k" for p in PATHS]
COLUMNS = IDENTITY + [c for c, _ in COUNTERS] + LATENCY_EXTRA + DERIVED + ["file"]

NAN = float("nan")


# ---------------------------------------------------------------- loading --------------

def identity_of(path):
    """(experiment, workload, schedule, halted, preempted, M, scheme) from a stats path."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    if len(parts) < 5 or not parts[-1].endswith(".json"):
        raise ValueError(f"{path}: not .../<experiment>/<workload>/<schedule>/m<M>/<scheme>.json")
    exp, workload, sched, mdir, fname = parts[-5:]
    scheme = fname[:-len(".json")]
    if exp not in EXPERIMENTS:
        raise ValueError(f"{path}: experiment {exp!r} is not one of {', '.join(EXPERIMENTS)}")
    if scheme not in BASELINE:
        raise ValueError(f"{path}: scheme {scheme!r} is not one of {', '.join(SCHEME_ORDER)}")
    m = re.fullmatch(r"m(\d+)", mdir)
    if not m:
        raise ValueError(f"{path}: {mdir!r} is not m<migrate_every>")
    if sched == "bare":
        halted = preempted = 0.0
    else:
        s = SCHED_RE.match(sched)
        if not s:
            raise ValueError(f"{path}: schedule {sched!r} is not bare or h<P>-p<P>")
        halted, preempted = float(s.group("h")), float(s.group("p"))
    if (sched == "bare") != (SETTING[scheme] == "bare metal"):
        raise ValueError(f"{path}: scheme {scheme} with schedule {sched}")
    return exp, workload, sched, halted, preempted, int(m.group(1)), scheme


def nested(doc, dotted, default=None):
    """config values are nested by the dots of their keys."""
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return default
        doc = doc[part]
    return doc


def ratio(a, b, scale=1.0):
    if a is None or b is None or isinstance(a, float) and math.isnan(a) or not b:
        return NAN
    return scale * a / b


def row_of(path):
    """One CSV row (a dict) from one stats file."""
    exp, workload, sched, halted, preempted, mig, scheme = identity_of(path)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    cnt = doc.get("counters") or {}
    cfg = doc.get("config") or {}
    if "irq.delivered" not in cnt:
        raise ValueError(f"{path}: no irq.* counters (not an interrupt run)")
    got = nested(cfg, "irq.scheme")
    if got is not None and got != scheme:
        raise ValueError(f"{path}: the file says irq.scheme={got}, its path {scheme}")
    model = nested(cfg, "sched.model", "")
    if model == "synthetic":  # the scheduler's keys are the run's config: they must agree
        for key, want in (("sched.migrate_every", mig), ("sched.halted", halted),
                          ("sched.preempted", preempted)):
            if key != "sched.migrate_every" and sched == "bare":
                continue
            v = nested(cfg, key)
            if v is not None and not math.isclose(float(v), float(want), abs_tol=1e-9):
                raise ValueError(f"{path}: the file says {key}={v}, its path {want}")
    row = {"experiment": exp, "workload": workload, "schedule": sched,
           "running": round(1.0 - halted - preempted, 12), "halted": halted,
           "preempted": preempted, "migrate_every": mig, "scheme": scheme,
           "baseline": BASELINE[scheme], "setting": SETTING[scheme],
           "mode": nested(doc, "iommusim.mode", ""), "sched_model": model, "file": path}
    for col, name in COUNTERS:
        v = cnt.get(name)
        row[col] = NAN if v is None else v
    hist = (doc.get("histograms") or {}).get("irq.latency_ns")
    row.update(latency_overflow_of(hist))
    n = row["delivered"]
    for c in ("ipis", "ipis_avoided", "vm_exits", "vm_exits_avoided", "retargets",
              "pid_updates"):
        row[f"{c}_per_1k"] = ratio(row[c], n, 1000.0)
    for p in PATHS:
        row[f"path_{p}_per_1k"] = ratio(row[f"path_{p}"], n, 1000.0)
    for c in ("cycles", "baseline_cycles", "cycles_saved", "retarget_cycles"):
        row[f"{c}_per_irq"] = ratio(row[c], n)
    row["net_saving_per_irq"] = ratio(row["net_cycles_saved"], n)
    row["net_saving_per_io"] = ratio(row["net_cycles_saved"], row["ios"])
    row["ios_per_irq"] = ratio(row["ios"], n)
    hits, misses = row["iec_hits"], row["iec_misses"]
    row["iec_hit_rate"] = NAN if math.isnan(hits + misses) else ratio(hits, hits + misses)
    # remap vs static: the two differ only in the IPIs (cycles_saved = IPIs avoided x
    # irq.cycles.ipi), so below this IPI cost retargeting costs more than it saves
    row["break_even_ipi_cycles"] = (ratio(row["retarget_cycles"], row["ipis_avoided"])
                                    if scheme == "remap" else NAN)
    return row


def latency_overflow_of(hist):
    """{latency_overflow_from_ns, latency_overflow_frac, latency_over_1ms_frac} of an
    irq.latency_ns histogram (NaN without one): where iommusim's percentiles stop being
    values (1 s with coarse bins, else the 1 ms overflow edge) and the shares beyond."""
    out = {k: NAN for k in LATENCY_EXTRA}
    if not (isinstance(hist, dict) and hist.get("overflow_from_ns") and hist.get("count")):
        return out
    n = hist["count"]
    fine_edge = hist["overflow_from_ns"]
    over_fine = sum(c for v, c in hist.get("bins", []) if v >= fine_edge)
    out["latency_over_1ms_frac"] = over_fine / n
    if "coarse_bins" in hist:
        out["latency_overflow_from_ns"] = COARSE_END_NS
        out["latency_overflow_frac"] = sum(c for v, c in hist["coarse_bins"]
                                           if v >= COARSE_END_NS) / n
    else:  # a stats file from before the coarse bins: beyond 1 ms, p50/p99 are the maximum
        out["latency_overflow_from_ns"] = fine_edge
        out["latency_overflow_frac"] = over_fine / n
    return out


def find_files(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                files += [os.path.join(root, n) for n in names if n.endswith(".json")]
        else:
            files.append(a)
    return sorted(set(files))


def mig_key(m):
    """Order by migration rate: never (0) first, then M falling."""
    return (0, 0) if m == 0 else (1, -m)


def sort_rows(rows):
    wl = {}
    for r in rows:
        wl.setdefault(r["experiment"], [])
        if r["workload"] not in wl[r["experiment"]]:
            wl[r["experiment"]].append(r["workload"])
    pat = {"nvme": 0, "nic": 1}
    rows.sort(key=lambda r: (EXPERIMENTS.index(r["experiment"]),
                             pat.get(r["workload"], 9), r["workload"],
                             r["schedule"] != "bare", -r["running"], r["halted"],
                             mig_key(r["migrate_every"]), SCHEME_ORDER.index(r["scheme"])))
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(r.get(k), float) and math.isnan(r[k])
                            else r.get(k, "")) for k in COLUMNS})


# ---------------------------------------------------------------- figures --------------

def mig_label(m):
    return "never" if m == 0 else f"{m:,}"


def sched_label(r):
    return f"{stats.fmt(r['running'])}/{stats.fmt(r['halted'])}/{stats.fmt(r['preempted'])}"


def _finish(ax, log=False, zero=False):
    ax.tick_params(labelsize=7)
    ax.grid(True, axis="y", which="major", alpha=0.3)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(LogFormatterSciNotation(minor_thresholds=(2, 0.4)))
        ax.tick_params(axis="y", which="minor", labelsize=6)
    if zero:
        ax.axhline(0, color="black", linewidth=0.7)


def _positive(v):
    return v if v is not None and not math.isnan(v) and v > 0 else NAN


def plot_migration(rows, stem, formats, dpi):
    rows = [r for r in rows if r["experiment"] == "migration"]
    pats = list(dict.fromkeys(r["workload"] for r in rows))
    ms = sorted({r["migrate_every"] for r in rows}, key=mig_key)
    schemes = [s for s in SCHEME_ORDER if any(r["scheme"] == s for r in rows)]
    by = {(r["workload"], r["migrate_every"], r["scheme"]): r for r in rows}
    x = np.arange(len(ms))
    timed = any(not math.isnan(r["latency_p50_ns"]) for r in rows)
    panels = [("net_saving_per_irq", "net cycles saved per interrupt\n(vs static; "
               "< 0: retargeting costs more than it saves)", False, True),
              ("net_saving_per_io", "net cycles saved per I/O (vs static)", False, True),
              ("ipis_per_1k", "IPIs sent per 1000 interrupts", False, False),
              ("retargets_per_1k", "IRTE retargets per 1000 interrupts", False, False),
              ("break_even_ipi_cycles", "break-even IPI cost (cycles): below it remap\n"
               "costs more than it saves (band: the quoted 5-10 K)", True, False)]
    if timed:
        panels.append(("latency", "interrupt latency (ns; MSI write to handler)\n"
                       "solid: p50, dashed: p99 " + bound_note(rows), True, False))
    fig, axes = plt.subplots(len(panels), len(pats), figsize=(5.2 * len(pats),
                             2.5 * len(panels)), squeeze=False, sharex=True)
    for j, pat in enumerate(pats):
        for i, (key, title, log, zero) in enumerate(panels):
            ax = axes[i][j]
            if key == "break_even_ipi_cycles":
                ax.axhspan(5000, 10000, color="#f1c40f", alpha=0.25, linewidth=0)
            for s in schemes:
                get = lambda k: np.array([by[(pat, m, s)][k] if (pat, m, s) in by else NAN
                                          for m in ms], dtype=float)
                c = SCHEME_COLORS[s]
                if key == "break_even_ipi_cycles" and s != "remap":
                    continue
                if key == "latency":
                    for q, style, size, lw in (("p50", "o-", 3.5, 1.3), ("p99", "s--", 3, 1.0)):
                        pts = [lat_value(by[(pat, m, s)], q) if (pat, m, s) in by
                               else (NAN, False) for m in ms]
                        ax.plot(x, [v for v, _ in pts], style, color=c, markersize=size,
                                linewidth=lw)
                        for xi, (v, over) in zip(x, pts):
                            if over:
                                ax.annotate("≥", (xi, v), xytext=(0, 2), fontsize=7,
                                            textcoords="offset points", ha="center")
                else:
                    v = get(key)
                    ax.plot(x, [_positive(y) for y in v] if log else v, "o-", color=c,
                            markersize=3.5, linewidth=1.3)
            _finish(ax, log, zero)
            ax.set_title(f"{pat}: {title}", fontsize=8.5)
            ax.set_xticks(x)
            ax.set_xticklabels([mig_label(m) for m in ms], fontsize=7)
        axes[-1][j].set_xlabel("a consumer migrates every M of its interrupts "
                               "(left to right: more migration)", fontsize=7.5)
    fig.legend(handles=[Line2D([], [], color=SCHEME_COLORS[s], marker="o", label=s)
                        for s in schemes], loc="upper center", ncol=len(schemes),
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Bare metal: static delivery vs IRTE retargeting (remap) across migration "
                 "rates", y=1.03, fontsize=10)
    fig.tight_layout()
    return stats.save_figure(fig, f"{stem}_migration", formats, dpi)


def _bar_groups(ax, cats, series, width_total=0.8):
    """series: [(label, color, hatch, values per category[, flags per category])]; a
    flagged bar (a latency percentile beyond the histogram's last edge, drawn at that edge)
    gets a "≥" above it. Returns x."""
    x = np.arange(len(cats))
    w = width_total / max(1, len(series))
    for k, (_, color, hatch, vals, *rest) in enumerate(series):
        xs = x + (k - (len(series) - 1) / 2) * w
        ax.bar(xs, vals, w, color=color, hatch=hatch, edgecolor="white", linewidth=0.3)
        for xi, v, flag in zip(xs, vals, rest[0] if rest else [False] * len(vals)):
            if flag:
                ax.annotate("≥", (xi, v), xytext=(0, 1), textcoords="offset points",
                            ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x)
    ax.set_xticklabels(cats, fontsize=7)
    return x


def lat_value(r, q):
    """(value to draw, in overflow?) of a latency percentile: the histogram's last edge when
    the percentile lies beyond it (iommusim then reports the maximum), else its value."""
    if in_overflow(r, q):
        return r["latency_overflow_from_ns"], True
    return _positive(r[f"latency_{q}_ns"]), False


HATCHES = ["", "//", "..", "xx", "\\\\", "oo"]


def plot_schedule(rows, stem, formats, dpi):
    rows = [r for r in rows if r["experiment"] == "schedule"]
    pats = list(dict.fromkeys(r["workload"] for r in rows))
    scheds = list(dict.fromkeys(r["schedule"] for r in rows))
    ms = sorted({r["migrate_every"] for r in rows}, key=mig_key)
    schemes = [s for s in SCHEME_ORDER if any(r["scheme"] == s for r in rows)]
    by = {(r["workload"], r["schedule"], r["migrate_every"], r["scheme"]): r for r in rows}
    labels = {r["schedule"]: sched_label(r) for r in rows}
    timed = any(not math.isnan(r["latency_p50_ns"]) for r in rows)
    panels = [("vm_exits_per_1k", "VM exits per 1000 interrupts", False, False),
              ("ipis_per_1k", "IPIs per 1000 interrupts", False, False),
              ("net_saving_per_irq", "net cycles saved per interrupt (vs vm-exit)", False,
               True)]
    if timed:
        panels += [("latency_p50_ns", "interrupt latency p50 (ns)", True, False),
                   ("latency_p99_ns", "interrupt latency p99 (ns) " + bound_note(rows),
                    True, False)]
    fig, axes = plt.subplots(len(panels), len(pats), figsize=(5.6 * len(pats),
                             2.5 * len(panels)), squeeze=False)
    for j, pat in enumerate(pats):
        for i, (key, title, log, zero) in enumerate(panels):
            ax = axes[i][j]
            series = []
            for s in schemes:
                for k, m in enumerate(ms):
                    rs = [by.get((pat, n, m, s)) for n in scheds]
                    flags = [False] * len(rs)
                    if key.startswith("latency_"):
                        pts = [lat_value(r, key.split("_")[1]) if r else (NAN, False)
                               for r in rs]
                        vals, flags = [v for v, _ in pts], [f for _, f in pts]
                    else:
                        vals = [r[key] if r else NAN for r in rs]
                    series.append((f"{s}, M={mig_label(m)}", SCHEME_COLORS[s],
                                   HATCHES[k % len(HATCHES)], vals, flags))
            _bar_groups(ax, [labels[n] for n in scheds], series)
            _finish(ax, log, zero)
            ax.set_title(f"{pat}: {title}", fontsize=8.5)
        axes[-1][j].set_xlabel("vCPU schedule when an interrupt arrives: "
                               "running / halted / preempted", fontsize=7.5)
    handles = [Patch(facecolor=SCHEME_COLORS[s], hatch=HATCHES[k % len(HATCHES)],
                     edgecolor="white", label=f"{s}, migrate every {mig_label(m)}")
               for s in schemes for k, m in enumerate(ms)]
    fig.legend(handles=handles, loc="upper center", ncol=min(4, len(handles)), fontsize=7.5,
               frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("VM: posted interrupts vs VM exit + injection across vCPU schedules",
                 y=1.04, fontsize=10)
    fig.tight_layout()
    return stats.save_figure(fig, f"{stem}_schedule", formats, dpi)


def plot_captures(rows, stem, formats, dpi):
    rows = [r for r in rows if r["experiment"] == "captures"]
    caps = list(dict.fromkeys(r["workload"] for r in rows))
    ms = sorted({r["migrate_every"] for r in rows}, key=mig_key)
    by = {(r["workload"], r["schedule"], r["migrate_every"], r["scheme"]): r for r in rows}
    bare = [s for s in ("static", "remap") if any(r["scheme"] == s for r in rows)]
    vm = [s for s in ("vm-exit", "posted") if any(r["scheme"] == s for r in rows)]
    vscheds = list(dict.fromkeys(r["schedule"] for r in rows if r["schedule"] != "bare"))
    labels = {r["schedule"]: sched_label(r) for r in rows if r["schedule"] != "bare"}
    timed = any(not math.isnan(r["latency_p50_ns"]) for r in rows)

    def vm_series(schemes):  # (label, color, hatch, schedule, scheme)
        return [(f"{s}, {labels[n]}", SCHEME_COLORS[s], HATCHES[a % len(HATCHES)], n, s)
                for s in schemes for a, n in enumerate(vscheds)]

    bare_series = [(s, SCHEME_COLORS[s], "", "bare", s) for s in bare]
    panels = []  # (title, key, series, log, zero)
    if bare:
        panels.append(("bare metal: IPIs per 1000 interrupts", "ipis_per_1k", bare_series,
                       False, False))
        if "remap" in bare:
            panels.append(("bare metal: net cycles saved per interrupt\n(remap vs static)",
                           "net_saving_per_irq", bare_series[-1:], False, True))
    if vm:
        panels.append(("VM: VM exits per 1000 interrupts\n(legend: scheme, running/halted/"
                       "preempted)", "vm_exits_per_1k", vm_series(vm), False, False))
        if "posted" in vm:
            panels.append(("VM: net cycles saved per interrupt\n(posted vs vm-exit)",
                           "net_saving_per_irq", vm_series(["posted"]), False, True))
    if timed:
        panels.append(("interrupt latency p99 (ns)", "latency_p99_ns",
                       bare_series + vm_series(vm), True, False))
    fig, axes = plt.subplots(len(panels), len(caps), figsize=(4.4 * len(caps) + 2.2,
                             2.5 * len(panels)), squeeze=False)
    for j, cap in enumerate(caps):
        for i, (title, key, series, log, zero) in enumerate(panels):
            ax = axes[i][j]
            ser = []
            for label, color, hatch, n, s in series:
                rs = [by.get((cap, n, m, s)) for m in ms]
                flags = [False] * len(rs)
                if key.startswith("latency_"):
                    pts = [lat_value(r, key.split("_")[1]) if r else (NAN, False) for r in rs]
                    vals, flags = [v for v, _ in pts], [f for _, f in pts]
                else:
                    vals = [r[key] if r else NAN for r in rs]
                ser.append((label, color, hatch, vals, flags))
            _bar_groups(ax, [mig_label(m) for m in ms], ser)
            _finish(ax, log, zero)
            ax.set_title(f"{cap}: {title}", fontsize=8)
            if j == len(caps) - 1:
                ax.legend(handles=[Patch(facecolor=c, hatch=h, edgecolor="white", label=lb)
                                   for lb, c, h, *_ in ser], fontsize=6.5, frameon=False,
                          loc="upper left", bbox_to_anchor=(1.0, 1.0))
        axes[-1][j].set_xlabel("a consumer migrates every M of its interrupts", fontsize=7.5)
    mode = ", ".join(sorted({r["mode"] for r in rows}))
    fig.suptitle(f"Real Linux captures ({mode} replay), consumers placed by the synthetic "
                 "scheduler", fontsize=10)
    fig.tight_layout()
    return stats.save_figure(fig, f"{stem}_captures", formats, dpi)


# ---------------------------------------------------------------- tables ---------------

def bound_note(rows):
    """What a "≥" on a latency marks, for a figure's title."""
    edges = {r["latency_overflow_from_ns"] for r in rows
             if not math.isnan(r.get("latency_overflow_from_ns", NAN))}
    where = " / ".join(("1 s" if e == COARSE_END_NS else "1 ms" if e == 1000000 else f"{e:,} ns")
                       for e in sorted(edges)) or "the histogram"
    return f"(≥: a bound, beyond {where}: the histogram's end)"


def in_overflow(r, q):
    """True when the run's q-percentile (p50, p99) lies beyond the histogram's last edge
    (iommusim then reports the maximum)."""
    frac = r.get("latency_overflow_frac", NAN)
    share = {"p50": 0.5, "p99": 0.01}[q]
    return not math.isnan(frac) and frac > share


def lat_text(r, q):
    if in_overflow(r, q):
        return f"≥ {stats.fmt(r['latency_overflow_from_ns'])}"
    return stats.fmt(r[f"latency_{q}_ns"])


def write_md(rows, path):
    lines = []

    def table(title, cols, rs):
        if not rs:
            return
        lines.append(f"### {title}\n")
        lines.append("| " + " | ".join(h for h, _ in cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for r in rs:
            lines.append("| " + " | ".join(f(r) for _, f in cols) + " |")
        lines.append("")

    def col(key, digits=3):
        return lambda r: stats.fmt(r[key], digits)

    ident = [("workload", lambda r: r["workload"]),
             ("migrate every", lambda r: mig_label(r["migrate_every"])),
             ("scheme", lambda r: r["scheme"])]
    lat = [("lat. p50 ns", lambda r: lat_text(r, "p50")),
           ("lat. p99 ns", lambda r: lat_text(r, "p99")),
           ("lat. max ns", col("latency_max_ns"))]
    table("Migration sweep (bare metal; baseline static)", ident + [
        ("interrupts", col("delivered")), ("I/Os", col("ios")),
        ("IPIs/1k", col("ipis_per_1k")), ("IPIs avoided/1k", col("ipis_avoided_per_1k")),
        ("retargets/1k", col("retargets_per_1k")),
        ("cycles/irq", col("cycles_per_irq")), ("saved/irq", col("cycles_saved_per_irq")),
        ("retarget cyc/irq", col("retarget_cycles_per_irq")),
        ("net saved/irq", col("net_saving_per_irq")),
        ("net saved/I/O", col("net_saving_per_io")),
        ("break-even IPI cyc", col("break_even_ipi_cycles")),
        ("IEC hit %", lambda r: stats.fmt(100 * r["iec_hit_rate"]))] + lat,
        [r for r in rows if r["experiment"] == "migration"])
    sched = [("workload", lambda r: r["workload"]),
             ("run/halt/preempt", sched_label),
             ("migrate every", lambda r: mig_label(r["migrate_every"])),
             ("scheme", lambda r: r["scheme"])]
    vmcols = [("interrupts", col("delivered")),
              ("VM exits/1k", col("vm_exits_per_1k")),
              ("exits avoided/1k", col("vm_exits_avoided_per_1k")),
              ("IPIs/1k", col("ipis_per_1k")),
              ("wake-ups/1k", col("path_wakeup_per_1k")),
              ("deferred/1k", col("path_deferred_per_1k")),
              ("still deferred at end", col("pending")),
              ("PID updates/1k", col("pid_updates_per_1k")),
              ("cycles/irq", col("cycles_per_irq")), ("saved/irq", col("cycles_saved_per_irq")),
              ("net saved/irq", col("net_saving_per_irq")),
              ("net saved/I/O", col("net_saving_per_io"))]
    table("vCPU schedule sweep (VM; baseline vm-exit)", sched + vmcols + lat,
          [r for r in rows if r["experiment"] == "schedule"])
    caps = [r for r in rows if r["experiment"] == "captures"]
    table("Captures, bare metal (synthetic scheduler; baseline static)", ident + [
        ("interrupts", col("delivered")), ("faults", col("faults")),
        ("IPIs/1k", col("ipis_per_1k")), ("retargets/1k", col("retargets_per_1k")),
        ("cycles/irq", col("cycles_per_irq")), ("net saved/irq", col("net_saving_per_irq")),
        ("break-even IPI cyc", col("break_even_ipi_cycles")),
        ("IEC hit %", lambda r: stats.fmt(100 * r["iec_hit_rate"]))] + lat,
        [r for r in caps if r["schedule"] == "bare"])
    table("Captures, VM (synthetic scheduler; baseline vm-exit)", sched + vmcols + lat,
          [r for r in caps if r["schedule"] != "bare"])
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------- main -----------------

def main(argv=None):
    p = argparse.ArgumentParser(description="Figures and tables of the IPI-savings study "
                                "from its stats JSON files.")
    p.add_argument("inputs", nargs="+", help="stats JSON files or folders of them "
                   "(.../<experiment>/<workload>/<schedule>/m<M>/<scheme>.json)")
    p.add_argument("-o", "--out", default="irq",
                   help="output stem (default: irq): STEM.csv, STEM_migration.png, ...")
    p.add_argument("--formats", default="png,pdf", help="comma-separated (default: png,pdf)")
    p.add_argument("--dpi", type=int, default=150)
    a = p.parse_args(argv)
    files = find_files(a.inputs)
    if not files:
        raise SystemExit("plot_irq: no stats JSON files in " + " ".join(a.inputs))
    try:
        rows = sort_rows([row_of(f) for f in files])
    except (ValueError, OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"plot_irq: {e}")
    seen = {}
    for r in rows:
        key = (r["experiment"], r["workload"], r["schedule"], r["migrate_every"], r["scheme"])
        if key in seen:
            raise SystemExit(f"plot_irq: {r['file']} and {seen[key]} are the same run")
        seen[key] = r["file"]
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    d = os.path.dirname(a.out)
    if d:
        os.makedirs(d, exist_ok=True)
    written = []
    exps = {r["experiment"] for r in rows}
    if "migration" in exps:
        written += plot_migration(rows, a.out, formats, a.dpi)
    if "schedule" in exps:
        written += plot_schedule(rows, a.out, formats, a.dpi)
    if "captures" in exps:
        written += plot_captures(rows, a.out, formats, a.dpi)
    write_csv(rows, f"{a.out}.csv")
    write_md(rows, f"{a.out}_summary.md")
    written += [f"{a.out}.csv", f"{a.out}_summary.md"]
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
