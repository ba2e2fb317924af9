"""fleetprep.open against what the Swift reader reports (`fleetprep dump`, `inspect --json`, `verify`)."""
import json
import math
import mmap
import os
import subprocess
import sys

import numpy as np
import pytest

import fleetprep
from fleetprep._crc32c import crc32c, crc32c_numpy, crc32c_slow

from conftest import DATASETS, REPO, dump, run

NP = {"u8": np.uint8, "f16": np.float16, "bf16": np.uint16, "f32": np.float32}


def _float(v):
    return float("nan") if v == "nan" else float(v)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_value_equals_the_swift_reader(name, datasets, fleetprep_bin):
    path = datasets(name)
    want = dump(fleetprep_bin, path)
    ds = fleetprep.open(path)
    assert len(ds) == len(want) > 0
    assert len(ds.files) > 1, "the test datasets span several shards"
    index = json.load(open(os.path.join(path, "index.json")))
    names = index["schema"]["names"]
    seen = 0
    for s, w in zip(ds, want):
        assert s.key == w["key"]
        t = s.tensor
        assert s.dtype == w["tensor"]["dtype"] and s.layout == w["tensor"]["layout"]
        assert list(t.shape) == w["tensor"]["shape"] and t.dtype == NP[s.dtype]
        assert t.tobytes().hex() == w["tensorHex"], s.key
        assert crc32c(t) == w["tensorCRC32C"], s.key
        wl = np.array([_float(v) for v in w["labels"]], dtype=np.float32)
        assert s.labels.dtype == np.float32 and np.array_equal(s.labels, wl, equal_nan=True), s.key
        assert s.mask.dtype == np.bool_ and s.mask.tolist() == [bool(m) for m in w["mask"]]
        assert s.annotations == w["annotations"]
        assert s.metadata == w["metadata"]
        assert s.label_names == names == ds.label_names
        assert ds[s.index].key == s.key
        seen += 1
    assert seen == len(want)
    assert ds[-1].key == want[-1]["key"]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_single_shard_and_both_formats_agree(datasets):
    native, wds = fleetprep.open(datasets("native-f16-chw-3cam")), fleetprep.open(datasets("wds-f16-chw-3cam"))
    assert len(native) == len(wds)
    for a, b in zip(native, wds):
        assert a.key == b.key and np.array_equal(a.tensor, b.tensor) and a.metadata == b.metadata
        assert np.array_equal(a.labels, b.labels, equal_nan=True) and a.annotations == b.annotations
    one = fleetprep.open(native.files[1])
    assert len(one) == native.shard_sizes[1]
    assert one[0].key == native[native.shard_sizes[0]].key
    assert one.format == "native" and fleetprep.open(wds.files[0]).format == "wds"


def test_multi_camera_metadata_and_annotations(datasets):
    ds = fleetprep.open(datasets("native-f16-chw-3cam"))
    s = ds[0]
    assert s.metadata["cameras"] == ["main", "narrow", "rear"]
    assert s.shape[:2] == (3, 3) and s.layout == "NCHW"
    assert any(x.annotations is not None for x in ds), "event_0001 has annotations"
    clip = fleetprep.open(datasets("native-u8-hwc-clip"))
    assert clip[0].label_names == [] and clip[0].labels.shape == (0,) and clip[0].annotations is None


def test_crc32c_matches_the_textbook_loop_and_index():
    rng = np.random.default_rng(7)
    assert crc32c(b"123456789") == crc32c_numpy(b"123456789") == 0xE3069283
    for n in (0, 1, 63, 2047, 2048, 4097, 100_000, 262_147):
        d = rng.integers(0, 256, n, dtype=np.uint8)
        assert crc32c(d) == crc32c_numpy(d) == crc32c_slow(d.tobytes()), n


def test_record_crcs_match_the_oracle_reader(datasets):
    """Every native record's CRC-32C (read_native.py's byte loop, written from the format doc)."""
    sys.path.insert(0, os.path.join(REPO, "Tests", "FleetShardsTests"))
    import read_native
    ds = fleetprep.open(datasets("native-f16-chw-3cam"))
    for f in ds.files:
        for rec in read_native.read(f):
            assert rec["crc_ok"], rec["key"]
    for s in range(len(ds.files)):
        sh = ds.shard(s)
        for r in sh.records:
            assert crc32c(np.frombuffer(sh.mm, np.uint8, r.crc_span[1] - r.crc_span[0], r.crc_span[0])) == r.crc


@pytest.mark.parametrize("name", ["native-f16-chw-3cam", "wds-f16-chw-3cam", "native-bf16-hwc-8cam", "wds-f32-hwc-clip"])
def test_verify_clean_then_catches_a_flipped_byte(name, datasets, copy_of, fleetprep_bin):
    path = copy_of(datasets(name))
    ds = fleetprep.open(path)
    assert ds.verify() == []
    assert run(fleetprep_bin, "verify", path)[0] == 0
    # Flip one byte inside the tensor of the 2nd record of the 2nd shard.
    s = ds[ds.shard_sizes[0] + 1]
    sh = ds.shard(1)
    rec = sh.records[1]
    off = rec.tensor_offset + 5
    with open(sh.path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x20]))
    problems = fleetprep.open(path).verify()
    assert any(s.key in p and "CRC32C" in p for p in problems), problems
    assert any("digest differs" in p for p in problems), problems
    rc, out, _ = run(fleetprep_bin, "verify", path)
    assert rc == 1 and s.key in out  # the Swift side names the same record


def test_verify_catches_nonzero_padding(datasets, copy_of, fleetprep_bin):
    path = copy_of(datasets("native-f16-chw-3cam"))
    ds = fleetprep.open(path)
    sh = ds.shard(0)
    end = sh.records[0].crc_span[1]
    assert sh.records[1].crc_span[0] > end, "records are aligned, so padding follows the first"
    with open(sh.path, "r+b") as f:
        f.seek(end)
        f.write(b"\x01")
    problems = fleetprep.open(path).verify()
    assert any("not zero" in p for p in problems), problems
    assert run(fleetprep_bin, "verify", path)[0] == 1


@pytest.mark.parametrize("name", ["native-f16-chw-3cam", "wds-bf16-chw-2cam"])
def test_tensors_are_zero_copy_views_of_the_map(name, datasets):
    ds = fleetprep.open(datasets(name))
    s = ds[3]
    t = s.tensor
    base = t
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):  # numpy >= 2 keeps the exporter's memoryview
        base = base.obj
    assert isinstance(base, mmap.mmap)
    sh = ds.shard(ds.locate(3)[0])
    start = np.frombuffer(sh.mm, np.uint8).ctypes.data
    assert start <= t.ctypes.data and t.ctypes.data + t.nbytes <= start + sh.size
    assert not t.flags.owndata
    del ds, sh, base
    assert t.sum() is not None  # the view keeps the map alive after the dataset is gone


def test_bf16_and_float_helpers(datasets):
    ds = fleetprep.open(datasets("native-bf16-hwc-8cam"))
    s = ds[0]
    assert s.tensor.dtype == np.uint16
    f = s.to_float32()
    assert f.dtype == np.float32 and np.array_equal(f.view(np.uint32) >> 16, s.tensor.astype(np.uint32))
    assert np.array_equal(f.view(np.uint32) & 0xFFFF, np.zeros_like(f, dtype=np.uint32))
    h = fleetprep.open(datasets("native-f16-chw-3cam"))[0]
    assert np.array_equal(h.to_float32(), h.tensor.astype(np.float32))


def test_shapes_inspect_and_mixed_shape_batches(fleetprep_bin, tmp_path):
    out = str(tmp_path / "mixed")
    rc, o, e = run(fleetprep_bin, "ingest", os.path.join(REPO, "SampleClips", "mjpeg_176x144.avi"),
                   os.path.join(REPO, "SampleClips", "vfr_160x120.mkv"), "--out", out, "--quiet", "--dtype", "u8",
                   "--normalize", "none", "--stride", "4", "--target", "256KiB", "--mixed-shapes")
    assert rc == 0, e
    ds = fleetprep.open(out)
    # Without --mixed-shapes the same clips make one shape: the second is resized to the first's size.
    one = str(tmp_path / "one")
    rc, o, e = run(fleetprep_bin, "ingest", os.path.join(REPO, "SampleClips", "mjpeg_176x144.avi"),
                   os.path.join(REPO, "SampleClips", "vfr_160x120.mkv"), "--out", one, "--quiet", "--dtype", "u8",
                   "--stride", "4")
    assert rc == 0, e
    assert list(fleetprep.open(one).shapes().keys()) == [("u8", (1, 3, 144, 176), "NCHW")]
    assert json.load(open(os.path.join(one, "index.json")))["shapes"] == [{"shape": [1, 3, 144, 176], "samples": len(fleetprep.open(one))}]
    rc, o, e = run(fleetprep_bin, "inspect", "--json", out)
    report = json.loads(o)
    want = {(x["dtype"], tuple(x["shape"]), x["layout"]): x["count"] for x in report["shapes"]}
    assert ds.shapes() == want and len(want) == 2
    with pytest.raises(fleetprep.MixedShapesError, match="2 tensor shapes"):
        next(ds.batches(4))
    seen = []
    for b in ds.batches(4, seed=1, by_shape=True):
        assert b["tensor"].shape[0] == len(b["keys"]) <= 4
        seen += b["indices"].tolist()
    assert sorted(seen) == list(range(len(ds)))


def test_batches_partition_ranks_exactly_once(datasets):
    ds = fleetprep.open(datasets("native-bf16-hwc-8cam"))
    n = len(ds)
    for drop_last in (False, True):
        for epoch in (0, 1):
            got, pads, counts = [], [], []
            for rank in range(4):
                k = 0
                for b in ds.batches(3, seed=5, rank=rank, world_size=4, epoch=epoch, drop_last=drop_last):
                    assert np.array_equal(b["tensor"][0], ds[int(b["indices"][0])].tensor)
                    assert b["labels"].shape == (len(b["keys"]), len(ds.label_names)) and len(b["keys"]) == 3
                    got += b["indices"][~b["pad"]].tolist()
                    pads += b["indices"][b["pad"]].tolist()
                    k += 1
                counts.append(k)
            assert len(set(counts)) == 1, f"every rank runs the same number of steps: {counts}"
            if drop_last:  # whole steps of 4 x 3 samples; the rest of the epoch is dropped
                assert counts[0] == n // 12 and len(set(got)) == len(got) == counts[0] * 12 and not pads
            else:  # hand count: the last step is filled up to 12 samples from the epoch's start
                assert counts[0] == -(-n // 12) and sorted(got) == list(range(n))
                assert len(pads) == counts[0] * 12 - n and set(pads) <= set(got)
    a = [i for b in ds.batches(3, seed=5, epoch=0) for i in b["indices"]]
    assert a == [i for b in ds.batches(3, seed=5, epoch=0) for i in b["indices"]]
    assert a != [i for b in ds.batches(3, seed=5, epoch=1) for i in b["indices"]]


def test_normalization_and_geometry_recorded(datasets):
    ds = fleetprep.open(datasets("native-f32-chw-2cam-crop"))
    n = ds.normalization
    assert n == {"scale": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}  # --normalize imagenet
    geo = ds[0].metadata["geometry"]
    probe = json.load(open(os.path.join(REPO, "SampleClips", "event_0001", "main.probe.json")))
    video = next(st for st in probe["streams"] if st["codec_type"] == "video")
    rotation = next((sd.get("rotation", 0) for sd in video.get("side_data_list", []) if "rotation" in sd), 0)
    assert geo[0] == {"source": [video["width"], video["height"]], "crop": [8, 4, 48, 36], "size": [24, 18],
                      "rotation": rotation}
    # A box at the crop's corners maps to the tensor's corners; 2 source pixels are 1 tensor pixel.
    got = fleetprep.boxes_to_tensor([[8, 4, 56, 40], [10, 6, 12, 8]], geo[0])
    assert got.tolist() == [[0, 0, 24, 18], [1, 1, 2, 2]]


def test_import_does_not_need_torch():
    code = "import sys, fleetprep; assert 'torch' not in sys.modules, 'fleetprep imported torch'"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_python_m_fleetprep_verify(datasets, copy_of):
    path = copy_of(datasets("wds-bf16-chw-2cam"))
    p = subprocess.run([sys.executable, "-m", "fleetprep", "verify", path], capture_output=True, text=True)
    assert p.returncode == 0 and f"ok: {len(fleetprep.open(path))} samples verified" in p.stdout, p.stdout + p.stderr
    shard = fleetprep.open(path).files[0]
    with open(shard, "r+b") as f:
        f.seek(1024 + 200)
        b = f.read(1)
        f.seek(1024 + 200)
        f.write(bytes([b[0] ^ 1]))
    p = subprocess.run([sys.executable, "-m", "fleetprep", "verify", path], capture_output=True, text=True)
    assert p.returncode == 1 and "BAD" in p.stdout, p.stdout + p.stderr


def test_verify_catches_a_changed_wds_label_or_metadata_byte(datasets, copy_of, fleetprep_bin):
    """A .json member still valid JSON after the change: only its json_crc32c can tell."""
    path = copy_of(datasets("wds-f16-chw-3cam"))
    ds = fleetprep.open(path)
    sh = ds.shard(0)
    r = sh.records[-1]
    member = sh.mm[r.meta[0]:r.meta[1]]
    at = member.index(b'"master_index":') + len(b'"master_index":')
    digit = member[at:at + 1]
    assert digit.isdigit()
    with open(sh.path, "r+b") as f:
        f.seek(r.meta[0] + at)
        f.write(str((int(digit) + 1) % 10).encode())
    problems = fleetprep.open(path).verify()
    assert any(r.key in p and ".json member" in p for p in problems), problems
    rc, out, _ = run(fleetprep_bin, "verify", path)
    assert rc == 1 and r.key in out


def test_verify_catches_an_edited_index_json(datasets, copy_of, fleetprep_bin):
    path = copy_of(datasets("native-u8-hwc-clip"))
    idx = os.path.join(path, "index.json")
    text = open(idx).read()
    assert '"fill" : 1,' in text
    open(idx, "w").write(text.replace('"fill" : 1,', '"fill" : 2,'))
    problems = fleetprep.open(path).verify()
    assert "index.json's digest does not match its contents" in problems, problems
    assert run(fleetprep_bin, "verify", path)[0] == 1


def test_pip_install_leaves_no_build_output_in_the_checkout(tmp_path):
    pkg = os.path.join(REPO, "python")
    before = set(os.listdir(pkg))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", pkg, "-w", str(tmp_path)],
                       capture_output=True, text=True)
    if p.returncode != 0 and any(w in p.stderr for w in ("Could not find a version", "No matching distribution",
                                                         "Network", "connection")):
        pytest.skip(f"pip could not fetch the build backend (flit_core): {p.stderr.strip()[-200:]}")
    assert p.returncode == 0, p.stderr
    wheel = [f for f in os.listdir(tmp_path) if f.endswith(".whl")]
    assert len(wheel) == 1
    import zipfile
    names = zipfile.ZipFile(os.path.join(tmp_path, wheel[0])).namelist()
    assert "fleetprep/py.typed" in names and "fleetprep/torch.py" in names and "fleetprep/_remote.py" in names
    left = set(os.listdir(pkg)) - before
    assert not any(n == "build" or n.endswith(".egg-info") for n in set(os.listdir(pkg))), left


def test_public_names_have_docstrings_and_type_hints():
    import inspect
    import typing
    import fleetprep.torch as ft
    for mod in (fleetprep, ft):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if isinstance(obj, (int, str)):
                continue
            assert inspect.getdoc(obj), f"{mod.__name__}.{name} has no docstring"
            members = [obj] if inspect.isfunction(obj) else [m for k, m in vars(obj).items()
                                                              if inspect.isfunction(m) and not k.startswith("_")]
            for f in members:
                if inspect.isclass(obj):
                    assert inspect.getdoc(f), f"{mod.__name__}.{name}.{f.__name__} has no docstring"
                hints = typing.get_type_hints(f)
                assert "return" in hints or f.__name__ == "__init__", f"{mod.__name__}.{name}: {f.__name__} has no return hint"
    assert "A001" not in (inspect.getdoc(fleetprep.open) or "")  # help() shows docs, not source comments


def test_json_crc32c_is_found_by_reading_the_member_as_json():
    """Issue 25: the field is the top-level key, whatever whitespace surrounds its colon; the same
    key inside an annotation is not it; a malformed member is an error, never a skipped check."""
    from fleetprep._shards import json_crc_field
    m = b'{"annotations":{"json_crc32c":"deadbeef"},"json_crc32c" : "1a2b3c4d","key":"k\\u00e9"}  '
    a, b = json_crc_field(m)
    assert m[a:b] == b"1a2b3c4d"
    assert json_crc_field(b'{"key":"k"}') is None
    for bad in [b"[1]", b'{"json_crc32c":"1"}', b'{"json_crc32c":"aaaaaaaa","json_crc32c":"aaaaaaaa"}', b'{"json_crc32c":"aaaaaaaa"} {}']:
        try:
            json_crc_field(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
