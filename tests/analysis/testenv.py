"""What the analysis tests share (import it first): Debian's python3, which has numpy and
matplotlib (a python3 without them, e.g. a user-installed one first on PATH, hands over to
/usr/bin/python3), the repository's paths, analysis/ on the import path, and the iommusim
binary under test ($IOMMUSIM_BIN, default build/iommusim), and the helpers to run snakemake
and commands."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

try:
    import numpy  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "analysis"))
BIN = os.path.abspath(os.environ.get("IOMMUSIM_BIN", os.path.join(REPO, "build", "iommusim")))


def snakemake_cmd():
    exe = shutil.which("snakemake") or "/usr/bin/snakemake"
    if not os.access(exe, os.X_OK):
        raise unittest.SkipTest("snakemake not installed (scripts/deps installs it)")
    return [exe]


def sh(args, **kw):
    res = subprocess.run(args, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {res.returncode}\n"
                             f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


def job_counts(text):
    """{rule: count} from the 'Job stats' table snakemake prints."""
    counts = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)(?:\s+\d+\s+\d+)?\s*$", text, re.M):
        counts[m.group(1)] = int(m.group(2))
    return counts


def write_yaml(path, doc):
    """A config file for --configfile (JSON is YAML)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path
