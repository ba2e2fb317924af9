"""Driver for Benchmarks/compare (see that script). Standard library + the venv's packages."""
import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLEETPREP = os.path.join(ROOT, ".build", "release", "fleetprep")
W, H = 640, 480

PYTHON_PIPELINE = r'''
import sys, av, numpy as np, webdataset as wds
out, clips, threads = sys.argv[1], sys.argv[2:-1], int(sys.argv[-1])
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
n = 0
with wds.ShardWriter(out + "/py-%%06d.tar", maxsize=256 << 20) as sink:
    for c, clip in enumerate(clips):
        with av.open(clip) as container:
            stream = container.streams.video[0]
            stream.thread_count = threads
            for i, frame in enumerate(container.decode(stream)):
                rgb = frame.to_ndarray(width=%d, height=%d, format="rgb24", interpolation="BILINEAR")
                chw = ((rgb.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std).astype(np.float16)
                sink.write({"__key__": "c%%d-%%06d" %% (c, i), "npy": chw, "json": {"clip": clip, "frame": i, "time": float(frame.time)}})
                n += 1
print(n)
''' % (W, H)


def run(cmd, env=None):
    """Runs cmd; returns (wall s, cpu s, peak RSS bytes, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0,):
        sys.exit("failed: %s\n%s" % (" ".join(cmd), err.decode(errors="replace")[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, out.decode()


def frame_count(clip):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", clip], capture_output=True, text=True, check=True).stdout
    return int(out.strip().split(",")[0])


def main():
    ap = argparse.ArgumentParser(prog="Benchmarks/compare",
                                 description="fleetprep ingest vs ffmpeg vs PyAV+numpy+webdataset on the same clips, same 640x480 "
                                             "f16 CHW output, alternating rounds. For the --jobs scaling curve use "
                                             "`fleetprep bench --scaling-only`.")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each contender is reported (default 3)")
    ap.add_argument("--threads", type=int, default=1, help="fleetprep --jobs and ffmpeg/PyAV decoder threads (default 1)")
    ap.add_argument("clips", nargs="*", help="clips to use (default: the bundled 1280x960 H.264 and HEVC samples)", default=[os.path.join(ROOT, "SampleClips", c) for c in ("h264_1280x960.mp4", "hevc_1280x960.mp4")])
    a = ap.parse_args()
    frames = sum(frame_count(c) for c in a.clips)
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    t = str(a.threads)

    def fleetprep(d):
        return [FLEETPREP, "ingest", *a.clips, "--out", d, "--size", "%dx%d" % (W, H), "--dtype", "f16", "--layout", "chw",
                "--normalize", "imagenet", "--format", "wds", "--target", "256MiB", "--jobs", t, "--decoder-threads", "1", "--quiet"]

    def ffmpeg_null(d):
        cmd = ["ffmpeg", "-v", "error", "-nostdin", "-threads", t]
        for c in a.clips: cmd += ["-i", c]
        for i in range(len(a.clips)): cmd += ["-map", "%d:v:0" % i, "-f", "null", "-"]
        return cmd

    def ffmpeg_scale(d):
        cmd = ["ffmpeg", "-v", "error", "-nostdin", "-threads", t]
        for c in a.clips: cmd += ["-i", c]
        for i in range(len(a.clips)):
            cmd += ["-map", "%d:v:0" % i, "-vf", "scale=%d:%d:flags=bilinear,format=rgb24" % (W, H), "-f", "rawvideo", "-y", os.path.join(d, "out%d.rgb" % i)]
        return cmd

    def python_pipeline(d):
        return [sys.executable, "-c", PYTHON_PIPELINE, d, *a.clips, t]

    contenders = [("fleetprep ingest (wds, f16 CHW)", fleetprep), ("ffmpeg decode only (-f null)", ffmpeg_null),
                  ("ffmpeg decode+scale to raw RGB", ffmpeg_scale), ("PyAV + numpy + webdataset", python_pipeline)]
    best = {}
    for r in range(a.rounds):
        for name, make in contenders:
            d = tempfile.mkdtemp(prefix="fleetprep-compare-", dir=scratch)
            try:
                wall, cpu, rss, _ = run(make(d))
            finally:
                shutil.rmtree(d, ignore_errors=True)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu, rss)
    base = frames / best[contenders[0][0]][0]
    print("machine: %s, %d cores; clips: %s (%d frames); threads %s; best of %d alternating rounds; output in %s"
          % (platform.processor() or platform.machine(), os.cpu_count(), ", ".join(os.path.basename(c) for c in a.clips), frames, t, a.rounds, scratch))
    print("| contender | frames/s | CPU s | peak RSS MiB | fleetprep / this |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in contenders:
        wall, cpu, rss = best[name]
        fps = frames / wall
        print("| %s | %.1f | %.2f | %.0f | %.2f |" % (name, fps, cpu, rss / 1048576, base / fps))


if __name__ == "__main__":
    main()
