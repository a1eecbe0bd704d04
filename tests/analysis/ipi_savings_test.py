#!/usr/bin/env python3
"""Tests of the IPI-savings study (experiments/ipi-savings) and of analysis/plot_irq.py
(python3 unittest).

  * plot_irq.py on a small set of stats JSON files made up here (seeded random counters, in
    the workflow's folder layout, for the three experiments): the CSV has one row per file,
    and every value in it is what that file implies — identity from the path, counters as in
    the file, per-interrupt / per-1000 / per-I/O numbers from the counters; the figures and
    the summary table are written; a file whose config contradicts its path, a path outside
    the layout and two files of the same run are refused;
  * the Snakefile's dry run plans the whole study (and skips the capture rules when
    captures_dir does not exist), and refuses an unknown scheme or pattern;
  * the summary's latency percentiles: values up to 1 s (iommusim's 100 us bins beyond
    1 ms), a bound ("≥ 1,000,000,000") beyond, and "≥ 1,000,000" for stats files from before
    the coarse bins, checked on made-up histograms and on a real run whose p50 and p99 pass
    1 ms;
  * a tiny real run of the workflow (iommusim): the CSV's numbers obey what the schemes
    are (a baseline saves nothing, never-migrating consumers need no IPI nor retarget,
    posted and vm-exit see the same vCPU states, the percentiles are the histogram's, ...).

The iommusim binary comes from $IOMMUSIM_BIN (default: build/iommusim). Needs Debian's
python3 with numpy and matplotlib, and snakemake (scripts/deps installs them). Run:

    IOMMUSIM_BIN=build/iommusim python3 tests/analysis/ipi_savings_test.py
"""

import os
import sys

from testenv import BIN, REPO, snakemake_cmd, sh, job_counts, write_yaml  # noqa: E402 (first: it may re-exec)

import csv
import json
import math
import random
import shutil
import subprocess
import tempfile
import unittest

STUDY = os.path.join(REPO, "experiments", "ipi-savings")
SNAKEFILE = os.path.join(STUDY, "Snakefile")
PLOT = os.path.join(REPO, "analysis", "plot_irq.py")
BASELINE = {"static": "static", "remap": "static", "vm-exit": "vm-exit", "posted": "vm-exit"}
PATHS = ("direct", "ipi", "vm_exit", "posted", "wakeup", "deferred")


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


FINE_END_NS = 1000000          # irq.latency_ns: 1 ns bins below 1 ms (docs/stats.md) ...
COARSE_NS = 100000             # ... then 100 us bins ...
COARSE_END_NS = 1000000000     # ... up to 1 s; beyond, a percentile is the maximum
# The latency shapes fake_stats makes, in turn: (name, coarse bins written?, where the tail is)
LATENCY_SHAPES = (
    ("below 1 ms", True, None),
    ("p99 between 1 ms and 1 s", True, "coarse"),   # real percentiles, to 100 us
    ("p50 beyond 1 s", True, "beyond"),             # a bound: ">= 1,000,000,000"
    ("old file, p99 beyond 1 ms", False, "coarse"),  # before the coarse bins: ">= 1,000,000"
)


def percentile_ns(hist, q, max_ns):
    """A q-percentile of a latency histogram as iommusim computes it: the lower edge of the
    bin holding the quantile (1 ns bins below 1 ms, then the coarse bins below 1 s), the
    maximum beyond the last bin."""
    want, acc = q * hist["count"], 0
    fine = [(v, n) for v, n in hist["bins"] if v < FINE_END_NS]
    coarse = [(v, n) for v, n in hist.get("coarse_bins", []) if v < COARSE_END_NS]
    for v, n in sorted(fine) + sorted(coarse):
        acc += n
        if acc >= want:
            return float(v)
    return float(max_ns)


def fake_latency(rng, shape):
    """(irq.latency_ns histogram, p50, p99, max) as iommusim writes them, of one shape."""
    _, coarse, tail = shape
    values = [rng.randint(100, FINE_END_NS - 1) for _ in range(rng.randint(50, 400))]
    if tail == "coarse":  # a few percent between 1 ms and 1 s: p99 there, p50 below
        values += [rng.randint(FINE_END_NS, COARSE_END_NS - 1)
                   for _ in range(len(values) // 20 + 2)]
    elif tail == "beyond":  # most of them beyond 1 s
        values += [rng.randint(COARSE_END_NS, 3 * COARSE_END_NS) for _ in range(len(values))]
    hist = {"bucket_width_ns": 1, "count": len(values), "overflow_from_ns": FINE_END_NS}
    fine, cbins = {}, {}
    for v in values:
        b = min(v, FINE_END_NS)
        fine[b] = fine.get(b, 0) + 1
        if v >= FINE_END_NS:
            b = min(v // COARSE_NS * COARSE_NS, COARSE_END_NS)
            cbins[b] = cbins.get(b, 0) + 1
    hist["bins"] = sorted([b, n] for b, n in fine.items())
    mx = max(values)
    if coarse:
        hist.update(coarse_bucket_width_ns=COARSE_NS,
                    coarse_bins=sorted([b, n] for b, n in cbins.items()))
    # (before the coarse bins, a percentile in the 1 ms overflow bin was the maximum)
    p50, p99 = (percentile_ns(hist, q, mx) for q in (0.5, 0.99))
    return hist, p50, p99, float(mx)


def fake_stats(rng, scheme, timed, synthetic=None, shape=LATENCY_SHAPES[0]):
    """A stats document with made-up, self-consistent-looking irq counters."""
    delivered = rng.randint(50, 5000)
    ios = rng.randint(delivered, 4 * delivered)
    baseline = delivered * rng.randint(3000, 12000)
    cycles = baseline - rng.randint(-baseline // 4, baseline // 2)
    retarget = rng.randint(0, 3 * baseline // 4)
    c = {
        "irq.requests": delivered + rng.randint(0, 3), "irq.delivered": delivered,
        "irq.ios": ios, "irq.faults": rng.randint(0, 3),
        "irq.remapped": rng.randint(0, delivered), "irq.posted": rng.randint(0, delivered),
        "irq.notifications": rng.randint(0, delivered),
        "irq.ipis": rng.randint(0, delivered), "irq.ipis_avoided": rng.randint(0, delivered),
        "irq.vm_exits": rng.randint(0, delivered),
        "irq.vm_exits_avoided": rng.randint(0, delivered),
        "irq.retargets": rng.randint(0, delivered), "irq.pid_updates": rng.randint(0, delivered),
        "irq.cycles": cycles, "irq.baseline_cycles": baseline,
        "irq.cycles_saved": baseline - cycles, "irq.retarget_cycles": retarget,
        "irq.net_cycles_saved": baseline - cycles - retarget,
        "irq.net_saving_per_irq": (baseline - cycles - retarget) / delivered,
        "irq.net_saving_per_io": (baseline - cycles - retarget) / ios,
        "iec.hits": rng.randint(0, delivered), "iec.misses": rng.randint(1, 100),
        "iec.hit_rate": 0.5,
    }
    for p in PATHS:
        c[f"irq.path.{p}"] = rng.randint(0, delivered)
    hist = {}
    c["irq.pending"] = rng.randint(0, 3)
    if timed:
        # a latency histogram and its percentiles as iommusim writes them
        h, p50, p99, mx = fake_latency(rng, shape)
        c.update({"irq.latency_ns.p50": p50, "irq.latency_ns.p99": p99,
                  "irq.latency_ns.mean": p50 * rng.uniform(1, 3), "irq.latency_ns.max": mx})
        hist = {"irq.latency_ns": h}
    cfg = {"irq": {"scheme": scheme}, "sched": {"model": "trace"}}
    if synthetic:
        cfg["sched"] = dict(synthetic, model="synthetic", cpus=4, seed=1)
    return {"iommusim": {"mode": "timed" if timed else "functional", "version": "0.1.0"},
            "run": {"trace": "x.trace"}, "config": cfg, "counters": c, "histograms": hist}


def sched_name(h, p):
    return "bare" if h is None else f"h{h:g}-p{p:g}"


class PlotScript(unittest.TestCase):
    """plot_irq.py on made-up stats files: every CSV value is what its file implies."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="iommusim-irq-plot-")
        rng = random.Random(20240611)
        cls.files = {}  # path -> (identity, doc)
        cls.shapes = {}  # path -> its latency shape (timed files)
        runs = os.path.join(cls.tmp, "runs")

        def add(exp, wl, h, p, m, scheme, timed, synthetic=False):
            path = os.path.join(runs, exp, wl, sched_name(h, p), f"m{m}", f"{scheme}.json")
            syn = None
            if synthetic:
                syn = {"migrate_every": m}
                if h is not None:
                    syn.update(halted=h, preempted=p)
            shape = LATENCY_SHAPES[len(cls.shapes) % len(LATENCY_SHAPES)]
            if timed:
                cls.shapes[path] = shape
            doc = fake_stats(rng, scheme, timed, syn, shape)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            cls.files[path] = ((exp, wl, sched_name(h, p), 0.0 if h is None else h,
                                0.0 if p is None else p, m, scheme), doc)

        for wl in ("nvme", "nic"):
            for m in (0, 100, 1):
                for s in ("static", "remap"):
                    add("migration", wl, None, None, m, s, True)
            for h, p in ((0, 0), (0.3, 0.1)):
                for m in (0, 10):
                    for s in ("vm-exit", "posted"):
                        add("schedule", wl, h, p, m, s, True)
        for cap in ("cap-a", "cap-b"):
            for m in (0, 10):
                for s in ("static", "remap"):
                    add("captures", cap, None, None, m, s, False, synthetic=True)
                for s in ("vm-exit", "posted"):
                    add("captures", cap, 0.3, 0.1, m, s, False, synthetic=True)
        cls.stem = os.path.join(cls.tmp, "out", "irq")
        cls.res = sh([sys.executable, PLOT, runs, "-o", cls.stem])
        cls.rows = read_csv(cls.stem + ".csv")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_row_per_file(self):
        self.assertEqual(len(self.rows), len(self.files))
        self.assertEqual(sorted(os.path.abspath(r["file"]) for r in self.rows),
                         sorted(self.files))

    def test_values_are_what_the_json_implies(self):
        for r in self.rows:
            (exp, wl, sched, h, p, m, scheme), doc = self.files[os.path.abspath(r["file"])]
            c = doc["counters"]
            n, ios = c["irq.delivered"], c["irq.ios"]
            want = {
                "experiment": exp, "workload": wl, "schedule": sched, "halted": h,
                "preempted": p, "running": 1 - h - p, "migrate_every": m, "scheme": scheme,
                "baseline": BASELINE[scheme],
                "setting": "bare metal" if scheme in ("static", "remap") else "VM",
                "mode": doc["iommusim"]["mode"], "sched_model": doc["config"]["sched"]["model"],
                "delivered": n, "ios": ios, "requests": c["irq.requests"],
                "ipis": c["irq.ipis"], "vm_exits": c["irq.vm_exits"],
                "net_cycles_saved": c["irq.net_cycles_saved"],
                "ipis_per_1k": 1000 * c["irq.ipis"] / n,
                "ipis_avoided_per_1k": 1000 * c["irq.ipis_avoided"] / n,
                "vm_exits_per_1k": 1000 * c["irq.vm_exits"] / n,
                "vm_exits_avoided_per_1k": 1000 * c["irq.vm_exits_avoided"] / n,
                "retargets_per_1k": 1000 * c["irq.retargets"] / n,
                "pid_updates_per_1k": 1000 * c["irq.pid_updates"] / n,
                "cycles_per_irq": c["irq.cycles"] / n,
                "baseline_cycles_per_irq": c["irq.baseline_cycles"] / n,
                "cycles_saved_per_irq": c["irq.cycles_saved"] / n,
                "retarget_cycles_per_irq": c["irq.retarget_cycles"] / n,
                "net_saving_per_irq": (c["irq.baseline_cycles"] - c["irq.cycles"]
                                       - c["irq.retarget_cycles"]) / n,
                "net_saving_per_io": (c["irq.baseline_cycles"] - c["irq.cycles"]
                                      - c["irq.retarget_cycles"]) / ios,
                "sim_net_saving_per_irq": c["irq.net_saving_per_irq"],
                "iec_hit_rate": c["iec.hits"] / (c["iec.hits"] + c["iec.misses"]),
                "break_even_ipi_cycles": (c["irq.retarget_cycles"] / c["irq.ipis_avoided"]
                                          if scheme == "remap" and c["irq.ipis_avoided"]
                                          else ""),
            }
            for q in PATHS:
                want[f"path_{q}"] = c[f"irq.path.{q}"]
                want[f"path_{q}_per_1k"] = 1000 * c[f"irq.path.{q}"] / n
            want["pending"] = c["irq.pending"]
            for k in ("p50", "p99", "mean", "max"):
                want[f"latency_{k}_ns"] = c.get(f"irq.latency_ns.{k}", "")
            h = doc["histograms"].get("irq.latency_ns")
            over_1ms = sum(n for v, n in h["bins"] if v >= FINE_END_NS) if h else 0
            want["latency_over_1ms_frac"] = over_1ms / h["count"] if h else ""
            if h and "coarse_bins" in h:  # percentiles are values up to 1 s
                want["latency_overflow_from_ns"] = COARSE_END_NS
                want["latency_overflow_frac"] = sum(
                    n for v, n in h["coarse_bins"] if v >= COARSE_END_NS) / h["count"]
            else:  # no histogram, or one from before the coarse bins (up to 1 ms)
                want["latency_overflow_from_ns"] = FINE_END_NS if h else ""
                want["latency_overflow_frac"] = over_1ms / h["count"] if h else ""
            for key, v in want.items():
                with self.subTest(file=r["file"], key=key):
                    if isinstance(v, str):
                        self.assertEqual(r[key], v)
                    else:
                        self.assertTrue(math.isclose(float(r[key]), v, rel_tol=1e-9,
                                                     abs_tol=1e-9), f"{r[key]} != {v}")

    def test_functional_runs_have_no_latency(self):
        caps = [r for r in self.rows if r["experiment"] == "captures"]
        self.assertTrue(caps)
        for r in caps:
            self.assertEqual(r["mode"], "functional")
            self.assertEqual(r["latency_p50_ns"], "")
            self.assertEqual(r["latency_p99_ns"], "")

    def test_rows_are_ordered_by_migration_rate(self):
        ms = [int(r["migrate_every"]) for r in self.rows
              if r["experiment"] == "migration" and r["workload"] == "nvme"
              and r["scheme"] == "remap"]
        self.assertEqual(ms, [0, 100, 1])  # never, then more and more often

    def test_figures_and_tables_are_written(self):
        for fig in ("migration", "schedule", "captures"):
            for ext in ("png", "pdf"):
                path = f"{self.stem}_{fig}.{ext}"
                self.assertTrue(os.path.getsize(path) > 1000, path)
        with open(self.stem + "_summary.md", encoding="utf-8") as f:
            md = f.read()
        for title in ("Migration sweep", "vCPU schedule sweep", "Captures, bare metal",
                      "Captures, VM"):
            self.assertIn(title, md)

    def summary_latencies(self):
        """{(table, workload, schedule label, M label, scheme): (p50 text, p99 text, max
        text)} of the summary's timed tables (their last three columns)."""
        with open(self.stem + "_summary.md", encoding="utf-8") as f:
            md = f.read()
        out = {}
        for block in md.split("### ")[1:]:
            title, _, body = block.partition("\n")
            rows = [[x.strip() for x in ln.strip().strip("|").split("|")]
                    for ln in body.splitlines() if ln.startswith("| ")]
            head, rows = rows[0], rows[1:]
            self.assertEqual(head[-3:], ["lat. p50 ns", "lat. p99 ns", "lat. max ns"], title)
            for cells in rows:
                sched = cells[1] if head[1] == "run/halt/preempt" else "bare"
                mig, scheme = cells[head.index("migrate every")], cells[head.index("scheme")]
                out[(title.split(" (")[0], cells[0], sched, mig, scheme)] = tuple(cells[-3:])
        return out

    def test_summary_latencies_are_values_up_to_1s_and_bounds_beyond(self):
        lat = self.summary_latencies()
        table = {"migration": "Migration sweep", "schedule": "vCPU schedule sweep"}
        seen = set()
        for path, shape in self.shapes.items():
            (exp, wl, sched, h, p, m, scheme), doc = self.files[path]
            c = doc["counters"]
            label = "bare" if sched == "bare" else f"{1 - h - p:g}/{h:g}/{p:g}"
            got = lat[(table[exp], wl, label, "never" if m == 0 else f"{m:,}", scheme)]
            hist = doc["histograms"]["irq.latency_ns"]
            for i, q in enumerate(("p50", "p99")):
                value = c[f"irq.latency_ns.{q}"]
                with self.subTest(file=path, shape=shape[0], q=q):
                    if "coarse_bins" in hist:
                        beyond = sum(n for v, n in hist["coarse_bins"] if v >= COARSE_END_NS)
                        bound = "≥ 1,000,000,000"
                    else:
                        beyond = sum(n for v, n in hist["bins"] if v >= FINE_END_NS)
                        bound = "≥ 1,000,000"
                    share = {"p50": 0.5, "p99": 0.01}[q]
                    if beyond / hist["count"] > share:
                        # iommusim says the maximum there: only a bound is known
                        self.assertEqual(value, c["irq.latency_ns.max"])
                        self.assertEqual(got[i], bound)
                        seen.add((shape[0], "bound"))
                    else:
                        self.assertEqual(got[i], f"{value:,.0f}")
                        if value >= FINE_END_NS:  # a coarse bin's lower edge, shown as such
                            self.assertEqual(value % COARSE_NS, 0)
                            seen.add((shape[0], "over 1 ms"))
            self.assertEqual(got[2], f"{c['irq.latency_ns.max']:,.0f}")
        # every case occurs: a p99 between 1 ms and 1 s is a value, beyond 1 s a bound, and
        # a file from before the coarse bins gets the old 1 ms bound
        self.assertEqual(seen, {("p99 between 1 ms and 1 s", "over 1 ms"),
                                ("p50 beyond 1 s", "bound"),
                                ("old file, p99 beyond 1 ms", "bound")})

    def _refused(self, path, doc, message):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        res = subprocess.run([sys.executable, PLOT, path, "-o", os.path.join(self.tmp, "x")],
                             capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(message, res.stderr)

    def test_refuses_a_file_that_contradicts_its_path(self):
        rng = random.Random(1)
        bad = os.path.join(self.tmp, "bad", "migration", "nvme", "bare", "m10", "remap.json")
        self._refused(bad, fake_stats(rng, "static", True), "irq.scheme=static")
        bad = os.path.join(self.tmp, "bad", "captures", "c", "bare", "m10", "remap.json")
        self._refused(bad, fake_stats(rng, "remap", False, {"migrate_every": 100}),
                      "sched.migrate_every=100")
        bad = os.path.join(self.tmp, "bad", "migration", "nvme", "h0.3-p0.1", "m1",
                           "remap.json")
        self._refused(bad, fake_stats(rng, "remap", True), "scheme remap with schedule")

    def test_refuses_a_path_outside_the_layout(self):
        bad = os.path.join(self.tmp, "bad", "other", "nvme", "bare", "m1", "remap.json")
        self._refused(bad, fake_stats(random.Random(2), "remap", True), "experiment 'other'")

    def test_refuses_two_files_of_one_run(self):
        a = next(iter(self.files))
        b = os.path.join(self.tmp, "copy", *a.split(os.sep)[-5:])
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy(a, b)
        res = subprocess.run([sys.executable, PLOT, a, b, "-o", os.path.join(self.tmp, "y")],
                             capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("are the same run", res.stderr)


class DryRun(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iommusim-irq-dry-")
        # A dry run only needs the binary to exist.
        self.bin = BIN if os.access(BIN, os.X_OK) else sys.executable

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def snakemake(self, *options, configfile=None, config=(), check=True, quiet=True):
        cf = ["--configfile", configfile] if configfile else []
        args = snakemake_cmd() + ["--snakefile", SNAKEFILE, "-n", *(["-q"] * quiet),
                                  *options, *cf,
                                  "--config", f"iommusim={self.bin}",
                                  f"outdir={self.tmp}/out", *config]
        return sh(args) if check else subprocess.run(args, capture_output=True, text=True)

    def test_plans_the_study_without_captures(self):
        res = self.snakemake(config=[f"captures_dir={self.tmp}/no-such-folder"])
        jobs = job_counts(res.stdout + res.stderr)
        # migration: 2 patterns x 6 rates (a trace each) x 2 schemes; schedule: 2 patterns
        # x 4 schedules x 3 rates (a trace each) x 2 schemes
        self.assertEqual(jobs.get("gen_stream"), 2 * 6 + 2 * 4 * 3, res.stdout)
        self.assertEqual(jobs.get("run_migration"), 2 * 6 * 2, res.stdout)
        self.assertEqual(jobs.get("run_schedule"), 2 * 4 * 3 * 2, res.stdout)
        self.assertNotIn("import_capture", jobs)
        self.assertNotIn("run_capture", jobs)
        self.assertEqual(jobs.get("plot"), 1)
        self.assertIn("real-capture rules (import, run) are skipped", res.stderr)

    def test_plans_the_capture_runs_when_the_folder_exists(self):
        caps = os.path.join(self.tmp, "caps")
        os.makedirs(caps)
        for name in ("a", "b"):
            for part in ("qemu.log.gz", "guest-ftrace.txt.gz"):
                open(os.path.join(caps, f"{name}.{part}"), "w").close()
        cfg = write_yaml(os.path.join(self.tmp, "c.yaml"), {
            "captures_dir": caps, "captures": ["a", "b"],
            "capture": {"migrate_every": [0, 10],
                        "schedules": [{"halted": 0, "preempted": 0},
                                      {"halted": 0.5, "preempted": 0.25},
                                      {"halted": 0.2, "preempted": 0}]}})
        res = self.snakemake(configfile=cfg)
        jobs = job_counts(res.stdout + res.stderr)
        self.assertEqual(jobs.get("import_capture"), 2, res.stdout)
        # per capture: 2 rates x (2 bare schemes + 3 schedules x 2 VM schemes)
        self.assertEqual(jobs.get("run_capture"), 2 * 2 * (2 + 3 * 2), res.stdout)
        res = self.snakemake("--printshellcmds", configfile=cfg, quiet=False)
        self.assertRegex(res.stdout, r"--set irq.scheme=posted --set sched.model=synthetic "
                         r"--set sched.cpus=4 --set sched.migrate_every=10 --set sched.seed=1 "
                         r"--set sched.halted=0.5 --set sched.preempted=0.25")

    def test_unknown_scheme_and_pattern_are_errors(self):
        for doc, msg in (({"migration": {"schemes": ["posted"]}}, "'posted' is not one of"),
                         ({"schedule": {"patterns": ["gpu"]}}, "pattern gpu is not in"),
                         ({"schedule": {"schedules": [{"halted": 0.8, "preempted": 0.5}]}},
                          "sum <= 1")):
            cfg = write_yaml(os.path.join(self.tmp, "bad.yaml"), doc)
            res = self.snakemake(configfile=cfg, check=False)
            self.assertNotEqual(res.returncode, 0, doc)
            self.assertIn(msg, res.stdout + res.stderr)


CAPTURES = os.environ.get("IOMMUSIM_CAPTURES", "/work/shared/data/linux-qemu-vtd")
CAPTURE = "strict-cm-on"
TINY = {
    "count": 400,
    "patterns": {"nvme": {"rate": 50000}, "nic": {}},
    "migration": {"patterns": ["nvme", "nic"], "schemes": ["static", "remap"],
                  "migrate_every": [0, 1]},
    "schedule": {"patterns": ["nvme"], "schemes": ["vm-exit", "posted"],
                 "migrate_every": [0, 10],
                 "schedules": [{"halted": 0, "preempted": 0},
                               {"halted": 0.5, "preempted": 0.2}]},
    "capture": {"migrate_every": [0, 10], "schedules": [{"halted": 0, "preempted": 0}]},
}


class TinyRun(unittest.TestCase):
    """The whole workflow, small: every number checked comes from the CSV (or the stats
    file a row names)."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise AssertionError(f"no iommusim binary at {BIN} (set IOMMUSIM_BIN)")
        cls.tmp = tempfile.mkdtemp(prefix="iommusim-irq-run-")
        cls.captures = os.path.isfile(os.path.join(CAPTURES, f"{CAPTURE}.qemu.log.gz"))
        doc = dict(TINY, captures_dir=CAPTURES if cls.captures else "",
                   captures=[CAPTURE] if cls.captures else [])
        cfg = write_yaml(os.path.join(cls.tmp, "tiny.yaml"), doc)
        cls.out = os.path.join(cls.tmp, "out")
        sh(snakemake_cmd() + ["--snakefile", SNAKEFILE, "-c2", "-q", "--configfile", cfg,
                              "--config", f"iommusim={BIN}", f"outdir={cls.out}"])
        cls.rows = read_csv(os.path.join(cls.out, "irq.csv"))
        cls.by = {(r["experiment"], r["workload"], r["schedule"], int(r["migrate_every"]),
                   r["scheme"]): r for r in cls.rows}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def row(self, exp, wl, sched, m, scheme):
        return self.by[(exp, wl, sched, m, scheme)]

    @staticmethod
    def n(r, key):
        return float(r[key])

    def test_every_run_and_figure(self):
        caps = (2 * 2 + 1 * 2 * 2) if self.captures else 0
        self.assertEqual(len(self.rows), 2 * 2 * 2 + 2 * 2 * 2 + caps)
        for fig in ["migration", "schedule"] + ["captures"] * self.captures:
            self.assertGreater(os.path.getsize(os.path.join(self.out, f"irq_{fig}.png")), 1000)
        for r in self.rows:
            with self.subTest(file=r["file"]):
                self.assertEqual(self.n(r, "faults"), 0)
                if r["experiment"] != "captures":
                    self.assertEqual(r["mode"], "timed")
                    self.assertEqual(self.n(r, "requests"), TINY["count"])
                    self.assertGreater(self.n(r, "latency_p50_ns"), 0)
                    self.assertGreaterEqual(self.n(r, "latency_p99_ns"),
                                            self.n(r, "latency_p50_ns"))

    def test_latency_percentiles_are_the_histograms(self):
        """iommusim's p50/p99 are what its own histogram (1 ns bins, 100 us bins up to 1 s)
        gives, and the CSV copies them; nothing here is beyond 1 s, so none is a bound."""
        for r in self.rows:
            if r["mode"] != "timed":
                continue
            with open(r["file"], encoding="utf-8") as f:
                doc = json.load(f)
            h = doc["histograms"]["irq.latency_ns"]
            c = doc["counters"]
            with self.subTest(file=r["file"]):
                self.assertEqual(h["coarse_bucket_width_ns"], COARSE_NS)
                self.assertIn("coarse_bins", h)
                self.assertEqual(self.n(r, "latency_overflow_from_ns"), COARSE_END_NS)
                self.assertEqual(self.n(r, "latency_overflow_frac"), 0)
                for q in ("p50", "p99"):
                    want = percentile_ns(h, {"p50": 0.5, "p99": 0.99}[q],
                                         c["irq.latency_ns.max"])
                    self.assertEqual(c[f"irq.latency_ns.{q}"], want, q)
                    self.assertEqual(self.n(r, f"latency_{q}_ns"), want, q)

    def test_a_baseline_saves_nothing(self):
        for r in self.rows:
            if r["scheme"] in ("static", "vm-exit"):
                with self.subTest(file=r["file"]):
                    for key in ("cycles_saved", "net_cycles_saved", "ipis_avoided",
                                "vm_exits_avoided", "retarget_cycles"):
                        self.assertEqual(self.n(r, key), 0, key)
                    self.assertEqual(self.n(r, "cycles"), self.n(r, "baseline_cycles"))

    def test_migration(self):
        for wl in ("nvme", "nic"):
            with self.subTest(pattern=wl):
                st0, re0 = (self.row("migration", wl, "bare", 0, s) for s in ("static", "remap"))
                st1, re1 = (self.row("migration", wl, "bare", 1, s) for s in ("static", "remap"))
                # never moving: interrupts land where the consumer is, nothing to retarget
                self.assertEqual(self.n(st0, "ipis"), 0)
                self.assertEqual(self.n(re0, "retargets"), 0)
                self.assertEqual(self.n(re0, "net_cycles_saved"), 0)
                # moving before every interrupt: static forwards most of them, remap none
                self.assertGreater(self.n(st1, "ipis_per_1k"), 500)
                self.assertEqual(self.n(re1, "ipis"), 0)
                self.assertEqual(self.n(re1, "ipis_avoided"), self.n(st1, "ipis"))
                self.assertEqual(self.n(re1, "baseline_cycles"), self.n(st1, "cycles"))
                self.assertGreaterEqual(self.n(re1, "retargets"), self.n(re1, "delivered"))
                with open(re1["file"], encoding="utf-8") as f:
                    ipi = json.load(f)["config"]["irq"]["cycles"]["ipi"]
                self.assertEqual(self.n(re1, "cycles_saved"), self.n(re1, "ipis_avoided") * ipi)
                self.assertAlmostEqual(self.n(re1, "break_even_ipi_cycles"),
                                       self.n(re1, "retarget_cycles")
                                       / self.n(re1, "ipis_avoided"))
                # the IPI is on the path: static's median latency is longer
                self.assertGreater(self.n(st1, "latency_p50_ns"), self.n(re1, "latency_p50_ns"))
        # NAPI: a NIC interrupt completes several packets, an NVMe one (no coalescing) one
        nic = self.row("migration", "nic", "bare", 0, "static")
        nvme = self.row("migration", "nvme", "bare", 0, "static")
        self.assertGreater(self.n(nic, "ios"), self.n(nic, "delivered"))
        self.assertEqual(self.n(nvme, "ios"), self.n(nvme, "delivered"))

    def test_schedule(self):
        for m in (0, 10):
            with self.subTest(migrate_every=m):
                ve, po = (self.row("schedule", "nvme", "h0-p0", m, s) for s in ("vm-exit", "posted"))
                # always running: every interrupt is a VM exit without posting, none with it
                self.assertEqual(self.n(ve, "vm_exits"), self.n(ve, "delivered"))
                self.assertEqual(self.n(po, "vm_exits"), 0)
                self.assertEqual(self.n(po, "path_posted"), self.n(po, "delivered"))
                self.assertEqual(self.n(po, "vm_exits_avoided"), self.n(ve, "vm_exits"))
                self.assertGreater(self.n(po, "net_saving_per_irq"), 0)
                self.assertLess(self.n(po, "latency_p50_ns"), self.n(ve, "latency_p50_ns"))
                ve, po = (self.row("schedule", "nvme", "h0.5-p0.2", m, s)
                          for s in ("vm-exit", "posted"))
                self.assertEqual(self.n(po, "vm_exits"), 0)
                self.assertEqual(self.n(po, "vm_exits_avoided"), self.n(ve, "vm_exits"))
                self.assertEqual(self.n(po, "baseline_cycles"), self.n(ve, "cycles"))
                # both schemes see the vCPU in the same state: the same wake-ups, deferrals
                for key in ("path_wakeup", "path_deferred", "pending"):
                    self.assertEqual(self.n(po, key), self.n(ve, key), key)
                # halted and preempted vCPUs: wake-ups and deferred interrupts in both
                for r in (ve, po):
                    self.assertGreater(self.n(r, "path_wakeup"), 0)
                    self.assertGreater(self.n(r, "path_deferred"), 0)
                    self.assertLess(self.n(r, "vm_exits") + self.n(r, "path_posted"),
                                    0.5 * self.n(r, "delivered"))
                self.assertGreater(self.n(po, "pid_updates"), 0)

    def test_captures(self):
        if not self.captures:
            self.skipTest(f"no {CAPTURE} capture in {CAPTURES}")
        for m in (0, 10):
            st, re_ = (self.row("captures", CAPTURE, "bare", m, s) for s in ("static", "remap"))
            ve, po = (self.row("captures", CAPTURE, "h0-p0", m, s) for s in ("vm-exit", "posted"))
            with self.subTest(migrate_every=m):
                for r in (st, re_, ve, po):
                    self.assertEqual(r["mode"], "functional")
                    self.assertEqual(r["sched_model"], "synthetic")
                    self.assertEqual(r["latency_p50_ns"], "")
                    self.assertGreater(self.n(r, "delivered"), 8000)
                self.assertEqual(self.n(st, "remapped"), 0)
                self.assertEqual(self.n(re_, "remapped"), self.n(re_, "requests"))
                self.assertEqual(self.n(po, "posted"), self.n(po, "requests"))
                self.assertEqual(self.n(re_, "ipis"), 0)
                self.assertEqual(self.n(re_, "ipis_avoided"), self.n(st, "ipis"))
                self.assertEqual(self.n(po, "vm_exits_avoided"), self.n(ve, "vm_exits"))
                if m == 0:  # consumers start where the OS pointed their interrupts
                    self.assertEqual(self.n(st, "ipis"), 0)
                    self.assertEqual(self.n(ve, "ipis"), 0)
                    self.assertEqual(self.n(re_, "retargets"), 0)
                else:
                    self.assertGreater(self.n(st, "ipis"), 0)


class BeyondOneMs(unittest.TestCase):
    """A real run whose latencies pass 1 ms (NVMe at the generator's default 200,000/s per
    queue, static delivery, migrating consumers: the CPUs the IPIs pile onto fall behind):
    p50 and p99 are values from the 100 us bins, not the maximum, and the summary shows them
    as values."""

    def test_percentiles_between_1ms_and_1s_are_values(self):
        if not os.access(BIN, os.X_OK):
            raise AssertionError(f"no iommusim binary at {BIN} (set IOMMUSIM_BIN)")
        tmp = tempfile.mkdtemp(prefix="iommusim-irq-1ms-")
        self.addCleanup(shutil.rmtree, tmp, True)
        trace = os.path.join(tmp, "nvme.trace")
        sh([BIN, "trace", "gen", "irq", "--pattern", "nvme", "--count", "8000", "--cpus", "4",
            "--migrate-every", "400", "--seed", "1", "-o", trace])
        stats = os.path.join(tmp, "runs", "migration", "nvme", "bare", "m400", "static.json")
        os.makedirs(os.path.dirname(stats))
        sh([BIN, "run", "-c", os.path.join(REPO, "configs", "intel-haswell-ep.json"),
            "-t", trace, "--set", "irq.scheme=static", "--set", "sched.model=trace", "-q",
            "--stats-json", stats])
        with open(stats, encoding="utf-8") as f:
            doc = json.load(f)
        c, h = doc["counters"], doc["histograms"]["irq.latency_ns"]
        mx = c["irq.latency_ns.max"]
        for q, share in (("p50", 0.5), ("p99", 0.99)):
            v = c[f"irq.latency_ns.{q}"]
            with self.subTest(q=q):
                self.assertGreaterEqual(v, FINE_END_NS)  # the case this test is about
                self.assertLess(v, mx)
                self.assertEqual(v % COARSE_NS, 0)       # a 100 us bin's lower edge
                self.assertEqual(v, percentile_ns(h, share, mx))
        stem = os.path.join(tmp, "out", "irq")
        sh([sys.executable, PLOT, os.path.join(tmp, "runs"), "-o", stem])
        row = read_csv(stem + ".csv")[0]
        self.assertEqual(float(row["latency_overflow_frac"]), 0)
        self.assertGreater(float(row["latency_over_1ms_frac"]), 0.5)
        with open(stem + "_summary.md", encoding="utf-8") as f:
            md = f.read()
        self.assertNotIn("≥", md)
        self.assertIn(f"| {c['irq.latency_ns.p50']:,.0f} | {c['irq.latency_ns.p99']:,.0f} | "
                      f"{mx:,.0f} |", md)


if __name__ == "__main__":
    unittest.main(verbosity=2)
