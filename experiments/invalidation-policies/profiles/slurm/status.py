#!/usr/bin/env python3
"""Snakemake --cluster-status script for SLURM: prints running, success or failed.

Snakemake calls it with one argument, the job id that `sbatch --parsable` printed
("1234" or "1234;cluster"). Asks sacct first (accounting on), then scontrol (a job the
controller still remembers, MinJobAge = 300 s by default). Standard library only.
"""

import subprocess
import sys
import time

RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
           "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
           "RESV_DEL_HOLD"}


def ask(cmd):
    """stdout of cmd, or None when it fails (not installed, controller unreachable)."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


def state_of(jobid):
    out = ask(["sacct", "-j", jobid, "-X", "--noheader", "--parsable2", "--format=State"])
    if out and out.strip():
        return out.split()[0]  # "CANCELLED by 1000" -> CANCELLED
    out = ask(["scontrol", "show", "job", "-o", jobid])
    if out:
        for field in out.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
    return None


def main():
    jobid = sys.argv[1].split(";")[0].strip()
    state = None
    for attempt in range(3):  # ride over a busy controller
        state = state_of(jobid)
        if state:
            break
        time.sleep(2 * (attempt + 1))
    if state is None:
        print("failed")  # unknown to sacct and scontrol: never wait for it forever
    elif state == "COMPLETED":
        print("success")
    elif state in RUNNING:
        print("running")
    else:  # FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...
        print("failed")


if __name__ == "__main__":
    main()
