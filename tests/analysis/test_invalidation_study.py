#!/usr/bin/env python3
"""Tests of the invalidation-policies study (experiments/invalidation-policies) and of
analysis/plot_invalidation.py (python3 unittest).

  * the Snakefile's dry run plans the full study (workloads x policies, the two sweeps, the
    variants, and the capture rules only when captures_dir exists), and refuses a variant
    of a workload that is not in the config;
  * a tiny real run of the workflow (two small workloads, every policy, a four-point sweep,
    a 2-CPU and an ATS variant) produces the CSV, the figures and the summary tables, and
    the numbers in them obey what the policies are: strict = one page invalidation + one
    wait per unmap and no stale window, passthrough = no descriptors and untranslated DMA,
    lazy / batched = fewer descriptors and stale windows, batch size 1 = strict, cycle
    components add up; the 2-CPU variant uses both CPUs, the ATS one sends translation
    requests and a device-TLB invalidation with every IOTLB one;
  * spread_cpus.py deals a trace's buffers to the CPUs;
  * with the real Linux captures (skipped when /work/shared/data/linux-qemu-vtd, or
    $IOMMUSIM_CAPTURES, is absent): one capture imported and replayed, timed and untimed;
  * the plot script's derived numbers on a hand-made row, and its refusal of a CSV without
    the study's columns.

The iommusim binary comes from $IOMMUSIM_BIN (default: build/iommusim). Needs Debian's
python3 with numpy and matplotlib, and snakemake (scripts/deps installs them). Run:

    IOMMUSIM_BIN=build/iommusim python3 tests/analysis/test_invalidation_study.py
"""

import os
import sys

from testenv import BIN, REPO, snakemake_cmd, sh, job_counts, write_yaml  # noqa: E402 (first: it may re-exec)

import json
import shutil
import subprocess
import tempfile
import unittest

import stats  # noqa: E402
import plot_invalidation  # noqa: E402

STUDY = os.path.join(REPO, "experiments", "invalidation-policies")
SNAKEFILE = os.path.join(STUDY, "Snakefile")
SPREAD = os.path.join(STUDY, "spread_cpus.py")
PLOT = os.path.join(REPO, "analysis", "plot_invalidation.py")
CAPTURES = os.environ.get("IOMMUSIM_CAPTURES", "/work/shared/data/linux-qemu-vtd")
POLICIES = ["strict", "lazy", "batched", "passthrough", "identity"]


class Base(unittest.TestCase):

    def setUp(self):
        if not os.access(BIN, os.X_OK):
            raise AssertionError(f"no iommusim binary at {BIN} (set IOMMUSIM_BIN)")
        self.tmp = tempfile.mkdtemp(prefix="iommusim-inv-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def snakemake(self, *options, config=(), configfile=None):
        cf = ["--configfile", configfile] if configfile else []
        return sh(snakemake_cmd() + ["--snakefile", SNAKEFILE, *options, *cf, "--config",
                                     f"iommusim={BIN}", f"outdir={self.tmp}/out", *config])


class DryRun(Base):

    def test_plans_the_full_study_without_captures(self):
        res = self.snakemake("-n", "-q", config=[f"captures_dir={self.tmp}/no-such-folder"])
        jobs = job_counts(res.stdout + res.stderr)
        self.assertEqual(jobs.get("gen_trace"), 6, res.stdout)
        self.assertEqual(jobs.get("simulate"), 6 * 5, res.stdout)
        self.assertEqual(jobs.get("sweep"), 2 * (11 + 9), res.stdout)
        self.assertEqual(jobs.get("gen_trace_cpus"), 1, res.stdout)  # the 2-CPU variant
        self.assertEqual(jobs.get("simulate_variant"), 5 + 4, res.stdout)  # 2 CPUs, ATS
        self.assertNotIn("import_capture", jobs)
        self.assertNotIn("replay_capture", jobs)
        for rule in ("collect", "plot", "all"):
            self.assertEqual(jobs.get(rule), 1, rule)
        self.assertIn("capture rules (import, replay) are skipped", res.stderr)

    def test_plans_the_capture_rules_when_the_folder_exists(self):
        caps = os.path.join(self.tmp, "caps")
        os.makedirs(caps)
        for name in ("a", "b"):
            for part in ("qemu.log.gz", "guest-ftrace.txt.gz"):
                open(os.path.join(caps, f"{name}.{part}"), "w").close()
        cfg = write_yaml(os.path.join(self.tmp, "c.yaml"),
                         {"captures_dir": caps, "captures": ["a", "b"]})
        res = self.snakemake("-n", "-q", configfile=cfg)
        jobs = job_counts(res.stdout + res.stderr)
        self.assertEqual(jobs.get("import_capture"), 2, res.stdout)
        self.assertEqual(jobs.get("replay_capture"), 4, res.stdout)  # timed + functional

    def test_a_variant_of_an_unknown_workload_is_an_error(self):
        cfg = write_yaml(os.path.join(self.tmp, "v.yaml"),
                         {"variants": [{"name": "x", "workload": "no-such-workload"}]})
        res = subprocess.run(snakemake_cmd() + ["--snakefile", SNAKEFILE, "-n", "-q",
                                                "--configfile", cfg, "--config",
                                                f"iommusim={BIN}", f"outdir={self.tmp}/o"],
                             capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("workload no-such-workload is not in workloads", res.stdout + res.stderr)

    def test_a_capture_without_its_files_is_an_error(self):
        caps = os.path.join(self.tmp, "caps")
        os.makedirs(caps)
        cfg = write_yaml(os.path.join(self.tmp, "c.yaml"),
                         {"captures_dir": caps, "captures": ["missing"]})
        res = subprocess.run(snakemake_cmd() + ["--snakefile", SNAKEFILE, "-n", "-q",
                                                "--configfile", cfg, "--config",
                                                f"iommusim={BIN}", f"outdir={self.tmp}/o"],
                             capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("missing.qemu.log.gz does not exist", res.stdout + res.stderr)


TINY = {
    "workloads": [
        {"name": "net", "size": 1500, "sg": 1, "dir": "rx", "ring": 32, "headroom": 64,
         "count": 400, "warmup": 40},
        {"name": "nvme", "size": 16384, "sg": 4, "dir": "tx", "ring": 8, "headroom": 0,
         "count": 120, "warmup": 12},
    ],
    "sweep_workloads": ["net"],
    "lazy_high_water": [1, 16],
    "batch": [1, 16],
    "variants": [
        {"name": "2-cpus", "workload": "net", "cpus": 2},
        {"name": "ats", "workload": "net", "set": {"device.ats": True},
         "policies": ["strict", "lazy"]},
    ],
    "captures_dir": "",
}


class TinyRun(Base):
    """The whole workflow on two small workloads; every number checked comes from the CSV."""

    @classmethod
    def setUpClass(cls):
        cls.tmp_class = tempfile.mkdtemp(prefix="iommusim-inv-run-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp_class, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp_class, "out")
        csv = os.path.join(self.out, "invalidation.csv")
        if not os.path.exists(csv):  # the workflow runs once for every test of the class
            cfg = write_yaml(os.path.join(self.tmp_class, "tiny.yaml"), TINY)
            sh(snakemake_cmd() + ["--snakefile", SNAKEFILE, "-j", "2", "-q",
                                  "--configfile", cfg, "--config", f"iommusim={BIN}",
                                  f"outdir={self.out}"])
        self.rows = stats.read_csv(csv)
        self.by = {(r["kind"], r["workload"], r["policy"], r["value"]): r for r in self.rows}

    def row(self, wl, policy, kind="policy", value=""):
        return self.by[(kind, wl, policy, value)]

    def test_one_row_per_run_equal_to_its_json(self):
        self.assertEqual(len(self.rows), 2 * 5 + 4 + 5 + 2)
        for r in self.rows:
            path = r["file"] if os.path.isabs(r["file"]) else os.path.join(STUDY, r["file"])
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            self.assertEqual(doc["iommusim"]["mode"], "timed")
            for key in ("dma.throughput_gbps", "host.cycles", "inv.descriptors",
                        "protection.stale_window_ns.max", "host.dma_unmaps"):
                self.assertEqual(r["counters." + key], doc["counters"][key], key)
            self.assertEqual(r["config.host.flush"], r["policy"])
            self.assertFalse(any(k.startswith("counters.per_device.") for k in r))

    def test_warmup_and_io_counts(self):
        for w in TINY["workloads"]:
            for p in POLICIES:
                r = self.row(w["name"], p)
                with self.subTest(workload=w["name"], policy=p):
                    # --warmup counts DMAs: one per sg segment. The driver runs beside the
                    # device, so when the warm-up ends it may lag behind it by up to the ring:
                    # those unmaps come after the reset and are counted.
                    self.assertEqual(r["run.warmup_dma"], w["warmup"] * w["sg"])
                    self.assertGreaterEqual(r["counters.host.dma_unmaps"], w["count"] - w["warmup"])
                    self.assertLessEqual(r["counters.host.dma_unmaps"],
                                         w["count"] - w["warmup"] + w["ring"] + 1)
                    self.assertEqual(r["counters.dma.count"],
                                     (w["count"] - w["warmup"]) * w["sg"])

    def test_policies_do_what_they_say(self):
        for w in ("net", "nvme"):
            strict, lazy, batched = (self.row(w, p) for p in ("strict", "lazy", "batched"))
            pt, ident = self.row(w, "passthrough"), self.row(w, "identity")
            ios = strict["counters.host.dma_unmaps"]
            with self.subTest(workload=w):
                # strict: one page-selective invalidation and one wait per unmap, no window
                # (an unmap under way when the warm-up ends has its descriptors counted after)
                self.assertGreaterEqual(strict["counters.inv.descriptors"], 2 * ios)
                self.assertLessEqual(strict["counters.inv.descriptors"], 2 * ios + 2)
                self.assertGreaterEqual(strict["counters.inv.iotlb.page"], ios)
                self.assertLessEqual(strict["counters.inv.iotlb.page"], ios + 1)
                self.assertEqual(strict["counters.protection.stale_windows_closed"], 0)
                self.assertEqual(strict["counters.protection.stale_window_ns.max"], 0)
                # lazy and batched: far fewer descriptors, and stale windows
                for r in (lazy, batched):
                    self.assertLess(r["counters.inv.descriptors"], ios / 4)
                    self.assertGreater(r["counters.protection.stale_windows_closed"], 0)
                    self.assertGreater(r["counters.protection.stale_window_ns.max"], 0)
                self.assertEqual(lazy["counters.inv.iotlb.page"], 0)
                self.assertGreater(lazy["counters.inv.iotlb.domain"], 0)
                # passthrough: untranslated, nothing invalidated; identity: translated, never
                # invalidated
                self.assertEqual(pt["counters.inv.descriptors"], 0)
                self.assertEqual(pt["counters.translations.passthrough"],
                                 pt["counters.translations"])
                self.assertEqual(ident["counters.inv.descriptors"], 0)
                self.assertEqual(ident["counters.translations.passthrough"], 0)
                self.assertGreater(ident["counters.walk.count"], 0)
                # the CPU: strict > lazy, batched > identity > passthrough
                cyc = {p: self.row(w, p)["counters.host.cycles_per_io"] for p in POLICIES}
                self.assertGreater(cyc["strict"], max(cyc["lazy"], cyc["batched"]))
                self.assertGreater(min(cyc["lazy"], cyc["batched"]), cyc["identity"])
                self.assertGreater(cyc["identity"], cyc["passthrough"])
                for p in POLICIES:
                    r = self.row(w, p)
                    parts = sum(r[f"counters.host.cycles.{k}"]
                                for k in ("map", "unmap", "iova", "submit", "wait"))
                    self.assertEqual(parts, r["counters.host.cycles"], p)

    def test_the_sweep(self):
        strict = self.row("net", "strict")
        b1 = self.row("net", "batched", "sweep", 1)
        b16 = self.row("net", "batched", "sweep", 16)
        h16 = self.row("net", "lazy", "sweep", 16)
        self.assertEqual(b1["config.host.batch"], 1)
        self.assertEqual(h16["config.host.lazy.high_water"], 16)
        # A batch of one is strict, descriptor for descriptor and cycle for cycle.
        for key in ("inv.descriptors", "host.cycles", "protection.stale_windows_closed"):
            self.assertEqual(b1["counters." + key], strict["counters." + key], key)
        self.assertLess(b16["counters.inv.descriptors"], b1["counters.inv.descriptors"] / 8)
        # One range invalidation + one wait per 16 unmaps.
        ios = b16["counters.host.dma_unmaps"]
        self.assertEqual(b16["counters.inv.descriptors"], 2 * b16["counters.host.flushes"])
        self.assertLessEqual(abs(b16["counters.host.flushes"] - ios / 16), 2)
        self.assertGreaterEqual(h16["counters.host.flushes.high_water"], 1)
        self.assertGreater(b16["counters.protection.stale_window_ns.max"],
                           self.row("net", "batched", "sweep", 1)[
                               "counters.protection.stale_window_ns.max"])

    def test_the_variants(self):
        for p in POLICIES:
            r = self.row("net", p, "variant", "2-cpus")
            with self.subTest(policy=p):
                self.assertEqual(r["param"], "host.cpus=2")
                self.assertEqual(r["config.host.cpus"], 2)
                self.assertEqual(r["counters.dma.count"], self.row("net", p)["counters.dma.count"])
                # both CPUs work (each maps and unmaps every other buffer)
                self.assertGreater(r["counters.per_cpu.0.cycles"], 0)
                self.assertGreater(r["counters.per_cpu.1.cycles"], 0)
                self.assertEqual(r["counters.per_cpu.0.cycles"] + r["counters.per_cpu.1.cycles"],
                                 r["counters.host.cycles"])
        # Two CPUs flushing at once: strict's queue holds both CPUs' descriptors at times.
        self.assertGreater(self.row("net", "strict", "variant", "2-cpus")[
            "counters.inv.queue.pending_max"], 2)
        self.assertNotIn(("variant", "net", "passthrough", "ats"), self.by)
        for p in ("strict", "lazy"):
            r = self.row("net", p, "variant", "ats")
            with self.subTest(policy=p):
                self.assertEqual(r["param"], "device.ats=true")
                self.assertIs(r["config.device.ats"], True)
                self.assertGreater(r["counters.ats.translation_requests"], 0)
                self.assertGreater(r["counters.devtlb.hits"], 0)
                self.assertEqual(r["counters.dma.errors"], 0)
                # one device-TLB invalidation with every IOTLB invalidation
                self.assertEqual(r["counters.inv.desc.devtlb"],
                                 r["counters.inv.iotlb.page"] + r["counters.inv.iotlb.domain"])
                self.assertGreater(r["counters.inv.desc.devtlb"], 0)
        plain = self.row("net", "strict")
        self.assertEqual(plain["counters.ats.translation_requests"], 0)
        self.assertEqual(plain["counters.inv.desc.devtlb"], 0)

    def test_figures_and_tables(self):
        stem = os.path.join(self.out, "invalidation")
        for name in ("policies", "sweep", "variants"):
            for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
                path = f"{stem}_{name}.{ext}"
                self.assertGreater(os.path.getsize(path), 1000, path)
                with open(path, "rb") as f:
                    self.assertEqual(f.read(4), magic, path)
        # No captures in this run: no capture figure.
        self.assertFalse(os.path.exists(f"{stem}_captures.png"))
        summary = stats.read_csv(f"{stem}_summary.csv")
        self.assertEqual(len(summary), len(self.rows))
        for s in summary:
            r = self.by[(s["kind"], s["workload"], s["policy"], s["value"])]
            ios = r["counters.host.dma_unmaps"]
            self.assertAlmostEqual(s["throughput_gbps"], r["counters.dma.throughput_gbps"])
            self.assertAlmostEqual(s["inv_desc_per_io"], r["counters.inv.descriptors"] / ios)
            self.assertAlmostEqual(s["cycles_per_io"], r["counters.host.cycles_per_io"],
                                   places=3)
        with open(f"{stem}_summary.md", encoding="utf-8") as f:
            md = f.read()
        self.assertIn("### Policies", md)
        self.assertIn("### Sweeps", md)
        self.assertIn("### Variants", md)
        self.assertEqual(md.count("| net | 2-cpus | host.cpus=2 | strict |"), 1)
        self.assertEqual(md.count("| net | strict |"), 1)
        # Traces are temporary: removed once their runs are done.
        self.assertEqual([f for _, _, fs in os.walk(os.path.join(self.out, "traces"))
                          for f in fs], [])


class Capture(Base):
    """One real capture through the workflow (import, timed and functional replay)."""

    def test_import_and_replay_one_capture(self):
        name = "strict-cm-on-patched"
        if not os.path.isfile(os.path.join(CAPTURES, f"{name}.qemu.log.gz")):
            self.skipTest(f"no captures in {CAPTURES} (set IOMMUSIM_CAPTURES)")
        cfg = write_yaml(os.path.join(self.tmp, "cap.yaml"),
                         {"workloads": [], "sweep_workloads": [], "variants": [],
                          "captures_dir": CAPTURES, "captures": [name]})
        self.snakemake("-j", "2", "-q", configfile=cfg)
        out = os.path.join(self.tmp, "out")
        rows = stats.read_csv(os.path.join(out, "invalidation.csv"))
        self.assertEqual(sorted(r["mode"] for r in rows), ["functional", "timed"])
        timed = next(r for r in rows if r["mode"] == "timed")
        func = next(r for r in rows if r["mode"] == "functional")
        for r in rows:
            self.assertEqual((r["kind"], r["workload"], r["policy"]),
                             ("capture", name, "strict"))
            # Replayed as recorded: the capture's own descriptors, the same in both modes.
            self.assertGreater(r["counters.inv.iotlb.page"], 1000)
            self.assertEqual(r["counters.inv.desc.wait"], timed["counters.inv.desc.wait"])
            self.assertEqual(r["counters.dma.errors" if r["mode"] == "timed"
                               else "counters.dma.faulted"], 0)
        self.assertEqual(func["counters.walk.count"], timed["counters.walk.count"])
        self.assertEqual(timed["counters.protection.stale_accesses"], 0)
        self.assertGreater(os.path.getsize(os.path.join(out, "invalidation_captures.png")),
                           1000)
        self.assertFalse(os.path.exists(os.path.join(out, "invalidation_policies.png")))
        with open(os.path.join(out, "invalidation_summary.md"), encoding="utf-8") as f:
            self.assertIn(f"| {name} | timed |", f.read())


class SpreadCpus(unittest.TestCase):

    def test_buffers_go_round_robin_to_the_cpus(self):
        trace = ("# iommusim trace v2\n"
                 "attach sid=00:03.0 did=1 mode=sl\n"
                 "dma_map sid=00:03.0 handle=1 pa=0x1040 len=8 perm=w\n"
                 "dma_map sid=00:03.0 handle=2 pa=0x2040 len=8 perm=w more\n"
                 "dma_map sid=00:03.0 handle=2 pa=0x3040 len=8 perm=w\n"
                 "dma sid=00:03.0 handle=1 off=0 len=8 op=w\n"
                 "dma_unmap handle=1\n"
                 "dma_map sid=00:03.0 handle=3 pa=0x4040 len=8 perm=w\n"
                 "dma sid=00:03.0 handle=2 off=0 len=16 op=w\n"
                 "dma_unmap handle=2\n")
        res = subprocess.run([sys.executable, SPREAD, "--cpus", "2"], input=trace,
                             capture_output=True, text=True, check=True)
        out = res.stdout.splitlines()
        self.assertEqual(len(out), len(trace.splitlines()))
        self.assertEqual(out[:3], trace.splitlines()[:3])  # header, attach, handle 1 on CPU 0
        self.assertEqual(out[3], "dma_map sid=00:03.0 handle=2 pa=0x2040 len=8 perm=w more cpu=1")
        self.assertTrue(out[4].endswith(" cpu=1"))
        self.assertEqual(out[5], "dma sid=00:03.0 handle=1 off=0 len=8 op=w")  # DMAs as they are
        self.assertEqual(out[6], "dma_unmap handle=1")
        self.assertEqual(out[7], "dma_map sid=00:03.0 handle=3 pa=0x4040 len=8 perm=w")
        self.assertEqual(out[9], "dma_unmap handle=2 cpu=1")


class PlotScript(unittest.TestCase):

    def test_derived_numbers_of_a_hand_made_row(self):
        row = {"kind": "policy", "workload": "w", "policy": "lazy", "param": "", "value": "",
               "mode": "timed", "size": "1000",
               "counters.host.dma_unmaps": "100", "counters.dma.throughput_gbps": "8",
               "counters.host.cycles": "250000", "counters.host.cycles.wait": "1000",
               "counters.inv.descriptors": "4", "counters.iotlb.hits": "30",
               "counters.iotlb.misses": "10", "counters.walk.mem_reads": "150",
               "counters.protection.stale_windows_closed": "50",
               "counters.protection.stale_window_ns.sum": "5000000",
               "counters.protection.stale_window_ns.max": "200000",
               "counters.protection.stale_bytes": "204800",
               "counters.protection.subpage_exposed_bytes": "309600"}
        d = plot_invalidation.derive(row)
        self.assertEqual(d["cycles_per_io"], 2500)
        self.assertEqual(d["cycles_wait_per_io"], 10)
        self.assertEqual(d["inv_desc_per_io"], 0.04)
        self.assertEqual(d["iotlb_hit_rate"], 0.75)
        self.assertEqual(d["walk_reads_per_io"], 1.5)
        self.assertEqual(d["stale_mean_us"], 100)
        self.assertEqual(d["stale_max_us"], 200)
        self.assertEqual(d["stale_bytes_per_io"], 2048)
        self.assertEqual(d["subpage_bytes_per_io"], 3096)
        self.assertEqual(d["kiops"], 1000)  # 8 Gb/s of 1000-byte I/Os
        # 2500 cycles at 2.4 GHz per I/O of 1000 ns (1000 bytes at 8 Gb/s), one CPU
        self.assertAlmostEqual(d["cpu_load"], 2500 / 2.4 / 1000)
        self.assertAlmostEqual(plot_invalidation.derive(
            dict(row, **{"config.host.cpus": "2"}))["cpu_load"], 2500 / 2.4 / 1000 / 2)
        self.assertEqual(d["stale_pages_per_io"], 0)
        self.assertEqual(d["isolation"], "per buffer")
        self.assertEqual(plot_invalidation.derive(dict(row, policy="passthrough"))["isolation"],
                         "none")

    def test_rejects_a_csv_without_the_study_columns(self):
        tmp = tempfile.mkdtemp(prefix="iommusim-inv-bad-")
        try:
            bad = os.path.join(tmp, "bad.csv")
            with open(bad, "w", encoding="utf-8") as f:
                f.write("a,b\n1,2\n")
            res = subprocess.run([sys.executable, PLOT, bad, "-o", os.path.join(tmp, "x")],
                                 capture_output=True, text=True)
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("expected columns", res.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
