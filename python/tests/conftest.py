"""Fixtures: datasets written by the built `fleetprep` binary, and its `dump` output (the oracle).

The binary is $FLEETPREP_BIN or <repo>/.build/release/fleetprep. Where something a test needs is
missing (the binary, torch, webdataset) the test is skipped with the reason, except in CI
(CI set), where it fails.
"""
import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLIPS = os.path.join(REPO, "SampleClips")
EVENT = os.path.join(CLIPS, "event_0001")


def require(what, ok):
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"skipped: {what} is missing", allow_module_level=True)


def require_module(name):
    try:
        return __import__(name)
    except ImportError:
        require(f"python module {name}", False)


@pytest.fixture(scope="session")
def fleetprep_bin():
    b = os.environ.get("FLEETPREP_BIN") or os.path.join(REPO, ".build", "release", "fleetprep")
    require(f"the fleetprep binary ({b}; run `swift build -c release`)", os.access(b, os.X_OK))
    return b


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def dump(binary, path):
    rc, out, err = run(binary, "dump", "--hex", path)
    assert rc == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# name -> (inputs, options). Small tensors, several shards each (--target), every dtype and layout,
# multi-camera groups with labels and annotations and single clips without.
DATASETS = {
    "native-f16-chw-3cam": ([EVENT], ["--cameras", "main,narrow,rear", "--size", "40x30", "--dtype", "f16", "--layout", "chw",
                                      "--stride", "3", "--format", "native", "--target", "64KiB"]),
    "wds-f16-chw-3cam": ([EVENT], ["--cameras", "main,narrow,rear", "--size", "40x30", "--dtype", "f16", "--layout", "chw",
                                   "--stride", "3", "--format", "wds", "--target", "64KiB"]),
    "native-bf16-hwc-8cam": ([EVENT], ["--size", "24x16", "--dtype", "bf16", "--layout", "hwc", "--stride", "4",
                                       "--format", "native", "--target", "64KiB", "--digest", "sha256"]),
    "wds-bf16-chw-2cam": ([EVENT], ["--cameras", "main,rear", "--size", "24x16", "--dtype", "bf16", "--stride", "4",
                                    "--format", "wds", "--target", "32KiB"]),
    "native-u8-hwc-clip": ([os.path.join(CLIPS, "mjpeg_176x144.avi")], ["--size", "44x36", "--dtype", "u8", "--layout", "hwc",
                                                                       "--normalize", "none", "--format", "native", "--target", "32KiB"]),
    "wds-f32-hwc-clip": ([os.path.join(CLIPS, "mpeg4_176x144.mov")], ["--size", "22x18", "--dtype", "f32", "--layout", "hwc",
                                                                     "--format", "wds", "--target", "32KiB", "--digest", "sha256"]),
    # Two long clips at a tiny size: 288 samples, enough global steps for the resume and elastic tests.
    "native-u8-chw-long": ([os.path.join(CLIPS, "h264_1280x960.mp4"), os.path.join(CLIPS, "hevc_1280x960.mp4")],
                           ["--size", "16x12", "--dtype", "u8", "--normalize", "none", "--format", "native",
                            "--target", "64KiB"]),
    "native-f32-chw-2cam-crop": ([EVENT], ["--cameras", "main,wide", "--crop", "8,4,48,36", "--size", "24x18", "--dtype", "f32",
                                           "--stride", "5", "--format", "native", "--target", "48KiB"]),
}


@pytest.fixture(scope="session")
def datasets(fleetprep_bin, tmp_path_factory):
    """name -> dataset directory, each written once per session by `fleetprep ingest`."""
    root = tmp_path_factory.mktemp("datasets")
    made = {}

    def get(name):
        if name not in made:
            inputs, opts = DATASETS[name]
            out = str(root / name)
            rc, o, e = run(fleetprep_bin, "ingest", *inputs, "--out", out, "--quiet", "--jobs", "2", *opts)
            assert rc == 0, f"ingest {name}: exit {rc}\n{o}\n{e}"
            made[name] = out
        return made[name]
    return get


@pytest.fixture
def copy_of(tmp_path):
    def copy(src):
        dst = str(tmp_path / os.path.basename(src))
        shutil.copytree(src, dst)
        return dst
    return copy
