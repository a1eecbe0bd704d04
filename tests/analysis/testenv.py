"""What the analysis tests share (import it first): Debian's python3, which has numpy and
matplotlib (a python3 without them, e.g. a user-installed one first on PATH, hands over to
/usr/bin/python3), the repository's paths, analysis/ on the import path, and the iommusim
binary under test ($IOMMUSIM_BIN, default build/iommusim)."""

import os
import sys

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
