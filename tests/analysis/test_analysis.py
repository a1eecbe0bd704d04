#!/usr/bin/env python3
"""Tests of analysis/ and of the dma-window-sweep workflow (python3 unittest).

  * the stats loader (analysis/stats.py) on stats files of real `iommusim run`s: every
    counter and config value, and the CSV round trip, equal the JSON;
  * analysis/plot_window_sweep.py on that CSV writes a non-empty PNG and PDF;
  * the Snakefile's dry run plans the expected jobs (and skips windows smaller than the DMA
    size), and a tiny real run of the workflow produces the CSV and the figure.

The iommusim binary comes from $IOMMUSIM_BIN (default: build/iommusim). Needs Debian's
python3 with numpy and matplotlib, and snakemake (scripts/deps installs them). Run:

    IOMMUSIM_BIN=build/iommusim python3 tests/analysis/test_analysis.py
"""

import os
import sys

from testenv import BIN, REPO, snakemake_cmd, sh, job_counts  # noqa: E402 (first: it may re-exec)

import json
import shutil
import subprocess
import tempfile
import unittest

import stats  # noqa: E402

PRESET = os.path.join(REPO, "configs", "intel-haswell-ep.json")
PLOT = os.path.join(REPO, "analysis", "plot_window_sweep.py")
SNAKEFILE = os.path.join(REPO, "experiments", "dma-window-sweep", "Snakefile")
IDENTITY = ("mode", "op", "size", "window", "window_bytes", "metric", "file")


def nested(doc, dotted):
    for part in dotted.split("."):
        doc = doc[part]
    return doc


class SmallSweep(unittest.TestCase):
    """A handful of real runs: 3 traces (64 B reads over 4 KB and 1 MB with 4 KB pages,
    1 MB with 2 MB pages); the 4 KB-page traces also with the IOMMU off; each point as a
    throughput run (preset tags) and a latency run (tags=1)."""

    COUNT, WARMUP = 2000, 200

    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise AssertionError(f"no iommusim binary at {BIN} (set IOMMUSIM_BIN)")
        cls.tmp = tempfile.mkdtemp(prefix="iommusim-analysis-")
        traces = {}
        for page, window in (("4K", "4K"), ("4K", "1M"), ("2M", "1M")):
            path = os.path.join(cls.tmp, f"{page}-{window}.bin")
            sh([BIN, "trace", "gen", "window", "--window", window, "--size", "64",
                "--count", str(cls.COUNT), "--page", page, "--op", "read", "-o", path])
            traces[(page, window)] = path
        cls.rows, cls.docs = [], []
        for (page, window), trace in traces.items():
            for mode in ([page, "off"] if page == "4K" else [page]):
                for metric in ("tput", "lat"):
                    out = os.path.join(cls.tmp, f"{mode}-{window}.{metric}.json")
                    sets = []
                    if mode == "off":
                        sets += ["--set", "iommu.translation_enabled=false"]
                    if metric == "lat":
                        sets += ["--set", "device.tags=1"]
                    sh([BIN, "run", "-c", PRESET, "-t", trace, *sets, "--warmup",
                        str(cls.WARMUP), "--stats-json", out, "-q"])
                    row = {"mode": mode, "op": "read", "size": 64, "window": window,
                           "window_bytes": stats.parse_bytes(window),
                           "metric": metric, "file": out}
                    row.update(stats.load(out, per_device=False))
                    cls.rows.append(row)
                    with open(out, encoding="utf-8") as f:
                        cls.docs.append(json.load(f))
        cls.csv = os.path.join(cls.tmp, "small.csv")
        stats.write_csv(cls.rows, cls.csv, first=IDENTITY)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_loader_counters_and_config_equal_the_json(self):
        self.assertEqual(len(self.rows), 10)
        for row, doc in zip(self.rows, self.docs):
            with self.subTest(file=row["file"]):
                self.assertEqual(doc["iommusim"]["mode"], "timed")
                flat = stats.load(row["file"])
                for key, value in doc["counters"].items():
                    self.assertEqual(flat["counters." + key], value, key)
                for key in ("device.tags", "device.posted", "iotlb.entries",
                            "iommu.translation_enabled", "link.mps", "timing.walk_step_ns"):
                    self.assertEqual(flat["config." + key], nested(doc["config"], key), key)
                self.assertEqual(flat["run.warmup_dma"], self.WARMUP)
                self.assertEqual(flat["counters.dma.count"], self.COUNT - self.WARMUP)
                # per_device=False drops exactly the per-device and per-domain counters.
                self.assertFalse(any(k.startswith(("counters.per_device.",
                                                   "counters.per_domain."))
                                     for k in row))
                self.assertTrue(any(k.startswith("counters.per_device.") for k in flat))
                # Lists (e.g. iommu.sagaw) are kept as JSON text.
                self.assertEqual(json.loads(flat["config.iommu.sagaw"]),
                                 doc["config"]["iommu"]["sagaw"])
                want_tags = 1 if row["metric"] == "lat" else 32
                self.assertEqual(flat["config.device.tags"], want_tags)
                self.assertEqual(flat["config.iommu.translation_enabled"],
                                 row["mode"] != "off")

    def test_parse_bytes(self):
        self.assertEqual(stats.parse_bytes("4K"), 4096)
        self.assertEqual(stats.parse_bytes("64M"), 64 << 20)
        self.assertEqual(stats.parse_bytes("512"), 512)
        self.assertEqual(stats.parse_bytes("2mb"), 2 << 20)

    def test_csv_round_trip_equals_the_json(self):
        back = stats.read_csv(self.csv)
        self.assertEqual(len(back), len(self.docs))
        self.assertEqual(list(back[0])[:len(IDENTITY)], list(IDENTITY))
        for row, doc in zip(back, self.docs):
            for key in ("dma.throughput_gbps", "dma.latency_ns.p50", "dma.latency_ns.mean",
                        "dma.count", "iotlb.hits", "iotlb.misses", "walk.count"):
                self.assertEqual(row["counters." + key], doc["counters"][key], key)
            for key in ("iommu.translation_enabled", "device.tags", "timing.walk_step_ns"):
                self.assertEqual(row["config." + key], nested(doc["config"], key), key)

    def test_the_runs_show_what_the_sweep_is_about(self):
        by = {(r["mode"], r["window"], r["metric"]): r for r in self.rows}
        # 1 MB of 4 KB pages is beyond the 64-entry IOTLB's reach; 4 KB is not.
        self.assertEqual(by[("4K", "4K", "lat")]["counters.iotlb.misses"], 0)
        self.assertGreater(by[("4K", "1M", "lat")]["counters.iotlb.misses"], 0)
        self.assertEqual(by[("off", "1M", "lat")]["counters.iotlb.hits"]
                         + by[("off", "1M", "lat")]["counters.iotlb.misses"], 0)

    def test_plot_writes_png_and_pdf(self):
        stem = os.path.join(self.tmp, "fig", "small")
        res = sh([sys.executable, PLOT, self.csv, "-o", stem])
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
            path = f"{stem}.{ext}"
            self.assertIn(path, res.stdout)
            self.assertTrue(os.path.isfile(path), path)
            self.assertGreater(os.path.getsize(path), 1000, path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(4), magic, path)

    def test_plot_rejects_a_csv_without_the_sweep_columns(self):
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("a,b\n1,2\n")
        res = subprocess.run([sys.executable, PLOT, bad, "-o", os.path.join(self.tmp, "x")],
                             capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("expected columns", res.stderr)


class Workflow(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iommusim-smk-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def snakemake(self, *options, config=()):
        return sh(snakemake_cmd() + ["--snakefile", SNAKEFILE, *options, "--config",
                                     f"iommusim={BIN}", f"outdir={self.tmp}/out", *config])

    def test_dry_run_plans_the_full_sweep(self):
        # 4 sizes x 2 ops x 15 windows x {4K, 2M, off} x {tput, lat} runs; the off runs
        # reuse the 4K traces.
        res = self.snakemake("-n", "-q")
        jobs = job_counts(res.stdout + res.stderr)
        self.assertEqual(jobs.get("simulate"), 4 * 2 * 15 * 3 * 2, res.stdout)
        self.assertEqual(jobs.get("gen_trace"), 4 * 2 * 15 * 2, res.stdout)
        for rule in ("collect", "plot", "all"):
            self.assertEqual(jobs.get(rule), 1, rule)

    def test_dry_run_skips_windows_smaller_than_the_dma(self):
        # 8 KB DMAs do not fit a 4 KB window: that point is skipped.
        res = self.snakemake("-n", "-q", config=["sizes=[64,8192]", "windows=[4K,8K]"])
        jobs = job_counts(res.stdout + res.stderr)
        points = 3 * 2 * (2 + 1)  # modes x ops x (64 B: 2 windows, 8 KB: 1 window)
        self.assertEqual(jobs.get("simulate"), points * 2)
        self.assertEqual(jobs.get("gen_trace"), 2 * 2 * (2 + 1))

    def test_tiny_real_run_makes_the_csv_and_the_figure(self):
        self.snakemake("-j", "2", "-q", config=["sizes=[64,256]", "ops=[read,write]",
                                                "windows=[4K,1M]", "count=600", "warmup=100"])
        out = os.path.join(self.tmp, "out")
        rows = stats.read_csv(os.path.join(out, "window_sweep.csv"))
        self.assertEqual(len(rows), 3 * 2 * 2 * 2 * 2)
        for r in rows:
            with open(os.path.join(os.path.dirname(SNAKEFILE), r["file"])
                      if not os.path.isabs(r["file"]) else r["file"],
                      encoding="utf-8") as f:
                doc = json.load(f)
            self.assertEqual(r["counters.dma.latency_ns.p50"],
                             doc["counters"]["dma.latency_ns.p50"])
            self.assertEqual(r["counters.dma.throughput_gbps"],
                             doc["counters"]["dma.throughput_gbps"])
            self.assertEqual(r["counters.dma.count"], 500)
            tags = 1 if r["metric"] == "lat" else 32
            self.assertEqual(r["config.device.tags"], tags)
            if r["metric"] == "lat" and r["op"] == "write":
                # One write in flight: its TLPs (split at MPS = 256 B) and no more.
                self.assertEqual(r["config.device.posted"], 1)
        for ext in ("png", "pdf"):
            path = os.path.join(out, f"window_sweep.{ext}")
            self.assertGreater(os.path.getsize(path), 1000, path)
        # Traces are temporary: removed once their runs are done.
        self.assertEqual([f for _, _, fs in os.walk(os.path.join(out, "traces"))
                          for f in fs], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
