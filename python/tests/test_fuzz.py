"""Reader hardening: >= 1,000 seeded crafted, flipped and truncated shards.

For every case: opening a shard raises nothing but ShardFormatError; a shard that opens has no
record addressing bytes outside itself (checked here from the file's own bytes, not the reader's
view of them); reading every sample raises nothing but ShardFormatError; Dataset.verify() on the
dataset holding the damaged shard never raises and reports a problem. On a sample of the cases,
the Swift `fleetprep verify` (the oracle) agrees that the dataset is damaged."""
import json
import os
import random
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import fleetprep
from fleetprep import ShardFormatError
from fleetprep._crc32c import crc32c
from fleetprep._shards import open_shard

from conftest import run

CASES = {"native-crafted": 450, "native-flip": 200, "native-truncate": 80,
         "wds-crafted": 150, "wds-flip": 120, "wds-truncate": 50}
ODD = [-1, 0, 1, 2, 63, 64, 4095, 4096, 2 ** 31, 2 ** 63, 2 ** 64 + 5, 10 ** 30, "x", None, 1.5, True, [], {}]


def _native_parts(data):
    ioff, ilen = struct.unpack_from("<QQ", data, 32)
    return ioff, json.loads(bytes(data[ioff:ioff + ilen]))


def _with_index(data, index, raw=None):
    ioff, _ = struct.unpack_from("<QQ", data, 32)
    raw = json.dumps(index).encode() if raw is None else raw
    out = bytearray(data[:ioff]) + raw
    struct.pack_into("<Q", out, 40, len(raw))
    struct.pack_into("<I", out, 48, crc32c(raw))
    return out


def _odd(rng, v):
    c = rng.choice(ODD + ["near", "double", "half"])
    if isinstance(v, int) and not isinstance(v, bool):
        if isinstance(c, str) and c in ("near", "double", "half"):
            return {"near": v + rng.choice([-8, -1, 1, 8]), "double": v * 2, "half": v // 2}[c]
        return c
    return rng.choice(ODD) if isinstance(c, str) and c in ("near", "double", "half") else c


def craft_native(data, rng):
    """A shard whose index CRC is right (so the structure, not the checksum, must catch it)."""
    data = bytearray(data)
    ioff, index = _native_parts(data)
    recs = index["records"]
    kind = rng.randrange(10)
    if kind == 0:  # a header field
        off, fmt = rng.choice([(8, "<I"), (12, "<I"), (16, "<Q"), (24, "<Q"), (32, "<Q"), (40, "<Q"), (52, "<I"), (56, "<Q")])
        v = rng.choice([0, 1, 3, 4095, 4097, 2 ** 20, 2 ** 31 - 1, 2 ** 32 - 1] + ([2 ** 40, 2 ** 64 - 1] if fmt == "<Q" else []))
        struct.pack_into(fmt, data, off, v)
        return data
    if kind == 1:  # the record list itself
        c = rng.randrange(5)
        if c == 0:
            index["records"] = recs[:-1]
        elif c == 1:
            index["records"] = recs + [recs[-1]]
        elif c == 2:
            index["records"] = "x"
        elif c == 3:
            return _with_index(data, None, b"[" * rng.choice([10, 5000, 100000]))
        else:
            index["schema"] = rng.choice(["x", {"names": 5}, None, []])
        return _with_index(data, index)
    r = rng.choice(recs)
    if kind in (2, 3, 4):
        f = rng.choice(["offset", "length", "tensor_bytes", "labels", "annotations_bytes", "metadata_bytes", "crc32c", "key"])
        r[f] = _odd(rng, r.get(f))
    elif kind == 5:  # the shape: doubled (and the sizes made to agree with it), or odd
        t = r["tensor"]
        if rng.random() < 0.6:
            t["shape"] = [t["shape"][0] * 2] + t["shape"][1:]
            if rng.random() < 0.7:
                grow = r["tensor_bytes"]
                r["tensor_bytes"] += grow
                if rng.random() < 0.7:
                    r["length"] += grow
        else:
            t["shape"] = rng.choice([[], [-1], [10 ** 12], [1] * 40, "x", [1.5], [0]])
    elif kind == 6:
        r["tensor"]["dtype"] = rng.choice(["f64", "", None, 3, "u16"])
    elif kind == 7:
        r["tensor"] = rng.choice([None, "x", {"shape": [1]}])
    elif kind == 8:  # a record moved onto its neighbour or past the index
        r["offset"] = rng.choice([0, 64, ioff, ioff - 1, recs[0]["offset"], r["offset"] + 4096])
    else:
        r["tensor"]["layout"] = rng.choice(["NCWH", "", 5])
    return _with_index(data, index)


def craft_wds(data, rng):
    data = bytearray(data)
    heads = [p for p in range(0, len(data) - 512, 512) if data[p + 257:p + 262] == b"ustar"]
    h = rng.choice(heads)
    name = bytes(data[h:h + 100]).rstrip(b"\0")
    kind = rng.randrange(6)
    if kind == 0:  # the size field
        data[h + 124:h + 136] = rng.choice([b"99999999999\0", b"xyz\0" + bytes(8), b"77777777777\0", b"-1" + bytes(10)])
    elif kind == 1:  # the name
        data[h:h + 100] = rng.choice([b"\xff\xfe" + bytes(98), b"a.npy".ljust(100, b"\0"), b"".ljust(100, b"\0")])
    elif name.endswith(b".npy") and kind in (2, 3, 4):  # the .npy header text
        p = h + 512
        hlen = struct.unpack_from("<H", data, p + 8)[0]
        text = rng.choice([b"((((((((((", b"{'descr': '<f2', 'fortran_order': False, 'shape': (1000000000000,), }",
                           b"[" * 2000, b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                           b"{'descr': '<f2', 'fortran_order': True, 'shape': (2, 2), }", b"__import__('os')",
                           b"{'descr': '<u2', 'fortran_order': False, 'shape': (3, 4, 5, 6), }", b"\x00" * 10])
        data[p + 10:p + 10 + hlen] = text[:hlen].ljust(hlen, b" ")
        if kind == 4:
            data[p + 6] = rng.choice([0, 2, 9])
    else:  # the .json member
        js = h + 512 if name.endswith(b".json") else h + 512 + ((int(bytes(data[h + 124:h + 135]), 8) + 511) // 512) * 512 + 512
        size = 64
        data[js:js + size] = rng.choice([b"{" * size, b'{"labels": "x", "mask": [1]}'.ljust(size),
                                         b'{"labels": [1, 2], "mask": [1]}'.ljust(size), b"[]".ljust(size),
                                         b'{"tensor": {"dtype": "f64"}}'.ljust(size)])[:size]
    return data


def flip(data, rng):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 8])):
        p = rng.randrange(len(data))
        data[p] ^= 1 << rng.randrange(8)
    return data


def truncate(data, rng):
    return bytearray(data[:rng.randrange(0, len(data))])


def _outside_record_check(sh, data):
    """From the file's own bytes: every record's view lies inside its record, records inside the file."""
    spans = []
    for r in sh.records:
        a, b = r.crc_span
        assert 0 < a <= b <= len(data)
        spans.append((a, b))
        assert a <= r.tensor_offset and r.tensor_offset + r.tensor_bytes <= b
        if sh.format == "native":
            assert r.meta[1] <= b and r.labels_offset + 5 * r.n_labels <= r.ann[0] <= r.meta[0]
            assert r.tensor_offset % sh.alignment == 0
    spans.sort()
    assert all(x[1] <= y[0] for x, y in zip(spans, spans[1:])), "records overlap"


def _read_all(sh):
    for j in range(len(sh)):
        r = sh.record(j)
        t = sh.tensor(r)
        assert t.nbytes == r.tensor_bytes
        sh.labels(r), sh.mask(r), sh.metadata(r), sh.annotations(r)


def _case(kind, src_dir, shard_name, rng, work):
    src = os.path.join(src_dir, shard_name)
    with open(src, "rb") as f:
        data = f.read()
    fmt, how = kind.split("-")
    make = {"crafted": craft_native if fmt == "native" else craft_wds, "flip": flip, "truncate": truncate}[how]
    bad = make(data, rng)
    d = os.path.join(work, "ds")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for f in os.listdir(src_dir):
        if f != shard_name:
            os.symlink(os.path.join(src_dir, f), os.path.join(d, f))
    with open(os.path.join(d, shard_name), "wb") as f:
        f.write(bad)
    path = os.path.join(d, shard_name)
    try:
        sh = open_shard(path)
    except ShardFormatError as e:
        assert shard_name in str(e), e
        sh = None
    if sh is not None:
        _outside_record_check(sh, bad)
        try:
            _read_all(sh)
        except ShardFormatError as e:
            assert shard_name in str(e), e
    ds = fleetprep.open(d)
    problems = ds.verify(shards=[[os.path.basename(f) for f in ds.files].index(shard_name)])
    assert isinstance(problems, list)
    if bytes(bad) != data:
        assert problems, f"{kind}: a changed shard verified clean"
    return d, bytes(bad) != data


@pytest.mark.parametrize("kind", sorted(CASES))
def test_reader_fuzz(kind, datasets, tmp_path, fleetprep_bin):
    name = "native-f16-chw-3cam" if kind.startswith("native") else "wds-f16-chw-3cam"
    src_dir = datasets(name)
    shards = sorted(f for f in os.listdir(src_dir) if f.endswith((".fps", ".tar")))
    rng = random.Random(f"fleetprep-fuzz-{kind}")
    swift_checked = 0
    for case in range(CASES[kind]):
        shard = rng.choice(shards)
        try:
            d, changed = _case(kind, src_dir, shard, rng, str(tmp_path))
        except AssertionError as e:
            raise AssertionError(f"{kind} case {case} ({shard}): {e}") from None
        except Exception as e:  # anything but ShardFormatError escaping the reader fails the case
            raise AssertionError(f"{kind} case {case} ({shard}): {type(e).__name__}: {e}") from e
        if changed and case % 25 == 0:  # the Swift reader agrees the dataset is damaged
            assert run(fleetprep_bin, "verify", d)[0] != 0, f"{kind} case {case}"
            swift_checked += 1
    assert swift_checked >= 2


def test_fuzz_has_at_least_1000_cases():
    assert sum(CASES.values()) >= 1000


def test_doubled_shape_cannot_reach_the_next_record(datasets, tmp_path):
    """Issue 24: a doubled shape with sizes made to agree ran the view into the next record."""
    src = os.path.join(datasets("native-f16-chw-3cam"), "shard-000000.fps")
    data = bytearray(open(src, "rb").read())
    _, index = _native_parts(data)
    r = index["records"][0]
    r["tensor"]["shape"][0] *= 2
    r["length"] += r["tensor_bytes"]
    r["tensor_bytes"] *= 2
    p = tmp_path / "shard-000000.fps"
    p.write_bytes(_with_index(data, index))
    with pytest.raises(ShardFormatError, match=f"inside record {r['key']}.*overlap"):
        open_shard(str(p))


def test_absurd_sample_counts_are_refused_before_allocating(datasets, copy_of):
    d = copy_of(datasets("native-u8-hwc-clip"))
    ip = os.path.join(d, "index.json")
    m = json.load(open(ip))
    m["shards"][0]["samples"] = 10 ** 12
    m["samples"] = sum(s["samples"] for s in m["shards"])
    open(ip, "w").write(json.dumps(m))
    with pytest.raises(ShardFormatError, match="claims 1000000000000 samples"):
        fleetprep.open(d)
    p = subprocess.run([sys.executable, "-m", "fleetprep", "verify", d], capture_output=True, text=True)
    assert p.returncode == 1 and "BAD" in p.stdout and "Traceback" not in p.stderr, p.stdout + p.stderr


def test_check_crc_catches_a_flipped_tensor_byte_on_read(datasets, copy_of):
    d = copy_of(datasets("native-f16-chw-3cam"))
    ds = fleetprep.open(d)
    assert [s.key for s in fleetprep.open(d, check_crc=True)] == [s.key for s in ds]
    sh = ds.shard(1)
    r = sh.records[0]
    with open(sh.path, "r+b") as f:
        f.seek(r.tensor_offset + 3)
        b = f.read(1)
        f.seek(r.tensor_offset + 3)
        f.write(bytes([b[0] ^ 4]))
    first = ds.shard_sizes[0]
    assert fleetprep.open(d)[first].key == r.key  # without check_crc the damaged byte is served
    with pytest.raises(ShardFormatError, match=f"shard-000001.fps: record {r.key}: CRC32C"):
        fleetprep.open(d, check_crc=True)[first]
    assert fleetprep.open(d, check_crc=True)[first - 1].key  # other records still read


@pytest.mark.parametrize("kind", ["crafted", "python-m"])
def test_python_m_verify_never_prints_a_traceback(kind, datasets, tmp_path):
    rng = random.Random(5)
    src = os.path.join(datasets("wds-f16-chw-3cam"), "shard-000000.tar")
    bad = craft_wds(open(src, "rb").read(), rng) if kind == "crafted" else truncate(open(src, "rb").read(), rng)
    p = tmp_path / "shard-000000.tar"
    p.write_bytes(bad)
    out = subprocess.run([sys.executable, "-m", "fleetprep", "verify", str(p)], capture_output=True, text=True)
    assert out.returncode == 1 and "BAD" in out.stdout and "Traceback" not in out.stderr, out.stdout + out.stderr
