#!/usr/bin/env python3
"""Per-frame time budget of one `fleetprep ingest` run, from a `perf` profile.

    Benchmarks/frame-budget.py [--jobs N] [--label NAME] -- INGEST-ARGS...

Runs `perf record` on `fleetprep ingest INGEST-ARGS --jobs N --json --quiet --out <tmp>` and
splits the samples into stages by shared object and symbol: decode (libavcodec, libavformat,
libavutil, libswscale), transform (FleetKernels, CTensorStore), CRC-32C, digest (SHA-256),
write (kernel time: pwrite into the page cache, page allocation, fsync), labels and records
(FleetLabels, FleetShards, FleetPrep, the Swift runtime, libc), start-up (the dynamic loader),
and wait (wall time x jobs minus CPU time: threads idle or blocked). Prints milliseconds per
frame for each, adding up to wall time x jobs / frames. Needs `perf` (Debian: linux-perf).
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

STAGES = ["decode", "transform", "crc32c", "digest", "write (kernel)", "labels+records", "start-up", "other"]


def stage(dso: str, sym: str) -> str:
    if dso.startswith(("libavcodec", "libavformat", "libavutil", "libswscale", "libswresample")):
        return "decode"
    if "crc32c" in sym:
        return "crc32c"
    if "sha256" in sym.lower() or "SHA256" in sym:
        return "digest"
    if "FleetKernels" in sym or "fleet_store" in sym or "12FleetKernels" in sym:
        return "transform"
    if dso.startswith("[kernel"):
        return "write (kernel)"
    if dso.startswith("ld-linux"):
        return "start-up"
    if dso in ("fleetprep",) or dso.startswith(("libswiftCore", "libc.so", "libFoundation", "libdispatch", "libstdc")):
        return "labels+records"
    return "other"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--label", default="")
    ap.add_argument("--fleetprep", default=".build/release/fleetprep")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if shutil.which("perf") is None:
        print("frame-budget: perf is not installed (Debian: apt-get install linux-perf)", file=sys.stderr)
        return 2
    args = [x for x in a.args if x != "--"]
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        out, data = os.path.join(tmp, "out"), os.path.join(tmp, "perf.data")
        cmd = ["perf", "record", "-q", "-F", "2000", "-o", data, a.fleetprep, "ingest", *args,
               "--jobs", str(a.jobs), "--json", "--quiet", "--out", out]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        run = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU of perf and the ingest it ran (perf's own share is small at this sample rate).
        cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if run.returncode not in (0, 1):
            print(run.stderr, file=sys.stderr)
            return run.returncode
        summary = json.loads(run.stdout)
        frames = summary["framesDecoded"]
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio",
                                 "-g", "none", "--percent-limit", "0", "-F", "period,dso,symbol"],
                                capture_output=True, text=True).stdout
    totals = {s: 0 for s in STAGES}
    for line in report.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        period, dso, rest = int(parts[0]), parts[1], parts[2]
        sym = rest.split("]", 1)[-1].strip()
        totals[stage(dso, sym)] += period
    # Scale the sample weights to the CPU time the run used (user + sys, the kernel's own count).
    weight = sum(totals.values())
    scale = cpu_s / weight if weight else 0
    ms = {s: totals[s] * scale * 1000 / frames for s in STAGES}
    ms["wait"] = max(0.0, (wall * a.jobs - cpu_s) * 1000 / frames)
    print(f"{a.label or ' '.join(args)}: {frames} frames, {wall:.2f} s wall, jobs {a.jobs}, {frames / wall:.1f} frames/s")
    print("| " + " | ".join(list(ms)) + " | total |")
    print("|" + "---:|" * (len(ms) + 1))
    print("| " + " | ".join(f"{v:.2f}" for v in ms.values()) + f" | {sum(ms.values()):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
