"""Load iommusim stats JSON files (docs/stats.md) as flat dictionaries.

A stats file nests its configuration by the dots of the config keys and keeps counters in a
flat object. ``load()`` turns one file into a single flat dict whose keys name the section:

    counters.dma.throughput_gbps   counters.iotlb.hits   ...
    config.iotlb.entries           config.device.tags    ...
    run.trace   run.warmup_dma     iommusim.version      derived.iotlb.hit_rate

Histograms and interval series are left out (they are not scalars). Per-device and per-domain
counters are kept unless ``per_device=False``.

Used by the dma-window-sweep workflow's collect step; usable on its own:

    python3 analysis/stats.py a.json b.json --out runs.csv      # one CSV row per file
    python3 analysis/stats.py a.json --columns                   # list the flat keys
"""

import argparse
import csv
import json
import math
import os
import sys

# Sections of a stats file that hold scalars (and nested objects of scalars).
SECTIONS = ("iommusim", "run", "counters", "derived", "config")


def flatten(obj, prefix=""):
    """Flatten nested dicts into {"a.b.c": value}. Lists become JSON text."""
    out = {}
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif isinstance(value, list):
            out[name] = json.dumps(value, separators=(",", ":"))
        else:
            out[name] = value
    return out


def load(path, sections=SECTIONS, per_device=True):
    """One stats JSON file as a flat dict (see the module docstring)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    flat = {}
    for section in sections:
        part = doc.get(section)
        if not isinstance(part, dict):
            continue
        if section == "counters" and not per_device:
            part = {k: v for k, v in part.items()
                    if not k.startswith(("per_device.", "per_domain."))}
        flat.update(flatten(part, section))
    return flat


_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_bytes(text):
    """A size as iommusim's options write it: '4K' -> 4096, '64M' -> 67108864, '512' -> 512."""
    t = str(text).strip().upper()
    if t.endswith("B"):
        t = t[:-1]
    if t and t[-1] in _UNITS:
        return int(t[:-1]) * _UNITS[t[-1]]
    return int(t)


def columns_of(rows, first=()):
    """Every key of the rows: `first` in its order, then the rest sorted."""
    seen = set(first)
    rest = sorted({k for row in rows for k in row} - seen)
    return list(first) + rest


def write_csv(rows, path_or_file, first=()):
    """Write dict rows as CSV (columns: union of the keys; missing values empty)."""
    cols = columns_of(rows, first)
    own = isinstance(path_or_file, str)
    f = open(path_or_file, "w", newline="", encoding="utf-8") if own else path_or_file
    try:
        w = csv.DictWriter(f, fieldnames=cols, restval="", lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow(row)
    finally:
        if own:
            f.close()


def read_csv(path, numeric=True):
    """Read a CSV written by write_csv; with numeric, numbers become int or float and
    True/False (how csv writes JSON booleans) become bool."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if numeric:
        rows = [{k: _number(v) for k, v in row.items()} for row in rows]
    return rows


def _number(text):
    if text is None or text == "":
        return text
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text



def fmt(v, digits=3):
    """A table cell: "–" for a missing value, whole numbers grouped (12,345), others to
    `digits` significant digits."""
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def save_figure(fig, stem, formats, dpi):
    """Writes fig as stem.<ext> for each format (creating the folder), closes it, returns the
    paths."""
    import matplotlib.pyplot as plt
    written = []
    for ext in formats:
        path = f"{stem}.{ext}"
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written

def main(argv=None):
    p = argparse.ArgumentParser(description="Flatten iommusim stats JSON files into CSV.")
    p.add_argument("files", nargs="+", help="stats JSON files (iommusim --stats-json)")
    p.add_argument("--out", "-o", default="-", help="CSV file (default: stdout)")
    p.add_argument("--no-per-device", action="store_true",
                   help="leave out per_device.* and per_domain.* counters")
    p.add_argument("--columns", action="store_true", help="print the flat keys and exit")
    a = p.parse_args(argv)
    rows = []
    for path in a.files:
        row = {"file": path}
        row.update(load(path, per_device=not a.no_per_device))
        rows.append(row)
    if a.columns:
        print("\n".join(columns_of(rows, ("file",))))
        return 0
    if a.out == "-":
        write_csv(rows, sys.stdout, ("file",))
    else:
        write_csv(rows, a.out, ("file",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
