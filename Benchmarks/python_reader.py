#!/usr/bin/env python3
"""Python read throughput: fleetprep.torch.FleetIterableDataset over native shards next to
webdataset over the same samples in wds shards, in one run, both on /dev/shm.

    python Benchmarks/python_reader.py --fleetprep .build/release/fleetprep [--size 640x480 --dtype f16]

Writes both datasets with `fleetprep ingest` (SampleClips' two 1280x960 clips, 288 frames), then
for each reader times full passes (best of --passes) in two ways:
  views     iterate samples as torch tensors (fleetprep: a view into the map, no byte touched
            until the training step reads it; webdataset: the .npy member read and decoded into
            a fresh array). GB/s here is tensor bytes handed out per second;
  batches   a torch DataLoader (num_workers=0, batch_size 16) stacking samples into batches:
            both readers then read every byte once, in the copy a training loop makes anyway.
and prints samples/s and GB/s (tensor bytes) of each and the ratio. torch runs on --threads
intra-op threads (default 1, what DataLoader workers use; on a loaded machine more threads make
torch.stack slower for both readers).

Then, for fleetprep only (same DataLoader batches):
  check_crc  every record's CRC-32C checked as it is first read (its cost over plain batches);
  remote     the native dataset served by Python's http.server on loopback and read through
             fleetprep.open("http://…") (fsspec): one cold epoch (shards fetched into the
             cache, digests checked), then warm epochs from the cache, compared with local.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "python"))


def ingest(binary, out, fmt, size, dtype):
    if os.path.exists(os.path.join(out, "index.json")):
        return
    clips = [os.path.join(REPO, "SampleClips", c) for c in ("h264_1280x960.mp4", "hevc_1280x960.mp4")]
    cmd = [binary, "ingest", *clips, "--out", out, "--size", size, "--dtype", dtype, "--format", fmt,
           "--target", "256MiB", "--quiet", "--overwrite"]
    subprocess.run(cmd, check=True)


def timed(passes, fn):
    best = None
    for _ in range(passes):
        t = time.perf_counter()
        n, nbytes = fn()
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    return n, nbytes, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetprep", default=os.path.join(REPO, ".build", "release", "fleetprep"))
    ap.add_argument("--dir", default="/dev/shm/fleetprep-python-bench")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--dtype", default="f16")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--keep", action="store_true", help="keep the datasets for the next run")
    a = ap.parse_args()

    import torch
    import webdataset as wds
    from torch.utils.data import DataLoader

    import fleetprep
    from fleetprep.torch import FleetIterableDataset

    torch.set_num_threads(a.threads)

    native, tar = os.path.join(a.dir, "native"), os.path.join(a.dir, "wds")
    t = time.perf_counter()
    ingest(a.fleetprep, native, "native", a.size, a.dtype)
    ingest(a.fleetprep, tar, "wds", a.size, a.dtype)
    print(f"datasets on {a.dir} ({time.perf_counter() - t:.1f} s to write)")
    n_samples = len(fleetprep.open(native))
    urls = sorted(glob.glob(os.path.join(tar, "*.tar")))

    def fleet_samples():
        ds = FleetIterableDataset(native, seed=0, shuffle=False, transform=lambda s: fleetprep.torch.to_torch(s))
        n = b = 0
        for x in ds:
            n += 1
            b += x.nbytes if hasattr(x, "nbytes") else x.numel() * x.element_size()
        return n, b

    def wds_samples():
        ds = wds.WebDataset(urls, shardshuffle=False).decode().map(lambda s: torch.from_numpy(s["npy"]))
        n = b = 0
        for x in ds:
            n += 1
            b += x.numel() * x.element_size()
        return n, b

    def fleet_batches():
        ds = FleetIterableDataset(native, seed=0, shuffle=False, batch_size=a.batch, transform=lambda s: fleetprep.torch.to_torch(s))
        n = b = 0
        for x in DataLoader(ds, batch_size=a.batch, num_workers=0):
            n += x.shape[0]
            b += x.numel() * x.element_size()
        return n, b

    def wds_batches():
        ds = wds.WebDataset(urls, shardshuffle=False).decode().map(lambda s: torch.from_numpy(s["npy"]))
        n = b = 0
        for x in DataLoader(ds, batch_size=a.batch, num_workers=0):
            n += x.shape[0]
            b += x.numel() * x.element_size()
        return n, b

    def fleet_loader(source, **kw):
        def run():
            ds = FleetIterableDataset(source, seed=0, shuffle=False, batch_size=a.batch,
                                      transform=lambda s: fleetprep.torch.to_torch(s), **kw)
            n = b = 0
            for x in DataLoader(ds, batch_size=a.batch, num_workers=0):
                n += x.shape[0]
                b += x.numel() * x.element_size()
            return n, b
        return run

    print(f"{n_samples} samples, {a.dtype} {a.size} CHW, torch {torch.__version__}, numpy {np.__version__}, "
          f"{a.threads} torch thread(s), best of {a.passes} passes")
    print(f"{'mode':8} {'reader':30} {'samples/s':>10} {'GB/s':>7} {'ratio':>6}")
    for mode, fl, wd in (("views", fleet_samples, wds_samples), ("batches", fleet_batches, wds_batches)):
        fn, fb, ft = timed(a.passes, fl)
        wn, wb, wt = timed(a.passes, wd)
        assert fn == wn == n_samples and fb == wb, (fn, wn, fb, wb)
        print(f"{mode:8} {'fleetprep FleetIterableDataset':30} {fn / ft:10.0f} {fb / ft / 1e9:7.2f} {wt / ft:5.1f}x")
        print(f"{mode:8} {'webdataset (.decode())':30} {wn / wt:10.0f} {wb / wt / 1e9:7.2f}")
    # check_crc and remote: fleetprep batches only, each next to a local run of the same loop.
    ln, lb, lt = timed(a.passes, fleet_loader(native))
    cn, cb, ct = timed(a.passes, fleet_loader(native, check_crc=True))
    assert cn == ln == n_samples
    print(f"{'batches':8} {'fleetprep local':30} {ln / lt:10.0f} {lb / lt / 1e9:7.2f}")
    print(f"{'batches':8} {'fleetprep check_crc=True':30} {cn / ct:10.0f} {cb / ct / 1e9:7.2f} {ct / lt:5.2f}x time")
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=a.dir))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/native"
    cache = os.path.join(a.dir, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    t = time.perf_counter()
    rn, rb = fleet_loader(url, cache_dir=cache)()
    cold = time.perf_counter() - t
    rn, rb, rt = timed(a.passes, fleet_loader(url, cache_dir=cache))
    httpd.shutdown()
    assert rn == n_samples and rb == lb
    print(f"{'batches':8} {'fleetprep remote, cold cache':30} {rn / cold:10.0f} {rb / cold / 1e9:7.2f} {cold / lt:5.2f}x time")
    print(f"{'batches':8} {'fleetprep remote, warm cache':30} {rn / rt:10.0f} {rb / rt / 1e9:7.2f} {rt / lt:5.2f}x time")
    if not a.keep:
        shutil.rmtree(a.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
