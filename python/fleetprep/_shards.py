"""Shard readers: native .fps (docs/shard-format.md) and WebDataset .tar, both memory-mapped.

Every tensor handed out is a numpy view into the shard's ``mmap`` (ACCESS_COPY: a private,
copy-on-write mapping, so views are writable for torch.from_numpy and writes never reach the
file). numpy keeps the map alive through the view's ``base`` chain as long as any view exists.
Where the kernel refuses a private mapping of a shard that large (overcommit), the shard is
mapped read-only instead: views are then not writable.
"""
import ast
import hashlib
import json
import mmap
import os
import struct

import numpy as np

from ._crc32c import crc32c

DTYPES = {"u8": np.dtype("u1"), "f16": np.dtype("<f2"), "bf16": np.dtype("<u2"), "f32": np.dtype("<f4")}
NPY_DESCR = {"|u1": "u8", "<f2": "f16", "<u2": "bf16", "<f4": "f32"}


class ShardFormatError(ValueError):
    """A shard that does not follow docs/shard-format.md (names the file and, when known, the record)."""


def _map(path):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ShardFormatError(f"{path}: empty file")
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY), size
        except OSError:  # a private writable map is charged as memory; a huge shard may not fit it
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), size


class Record:
    """Where one sample's parts lie in its shard's map (offsets are absolute)."""
    __slots__ = ("key", "dtype", "shape", "layout", "name", "tensor_offset", "labels_offset", "n_labels",
                 "mask_offset", "ann", "meta", "json", "crc_span", "crc")

    def __init__(self, key, spec, tensor_offset):
        self.key = key
        self.dtype = spec["dtype"]
        self.shape = tuple(spec["shape"])
        self.layout = spec.get("layout", "")
        self.name = spec.get("name", "frames")
        self.tensor_offset = tensor_offset


class _MappedShard:
    """What both shard readers share: records in `self.records`, tensors as views of `self.mm`."""

    def __len__(self):
        return len(self.records)

    def tensor(self, r):
        dt = DTYPES[r.dtype]
        n = 1
        for d in r.shape:
            n *= d
        return np.frombuffer(self.mm, dtype=dt, count=n, offset=r.tensor_offset).reshape(r.shape)

    def check_records(self, computed=None):
        """Each record's CRC-32C against the one stored (and what `check_record` adds); `computed`
        collects the CRCs by byte span for the shard digest."""
        problems = []
        name = os.path.basename(self.path)
        for r in self.records:
            self.check_record(r, name, problems, computed)
        return problems

    def check_record(self, r, name, problems, computed):
        got = crc32c(self.mm[r.crc_span[0]:r.crc_span[1]])
        if computed is not None:
            computed[r.crc_span] = got
        if r.crc is None:
            problems.append(f"{name}: record {r.key}: no checksum stored")
        elif got != r.crc:
            problems.append(f"{name}: record {r.key}: CRC32C {got:08x}, stored {r.crc:08x}")


class NativeShard(_MappedShard):
    """A native .fps shard: header, records at aligned offsets, JSON index at the end."""
    format = "native"

    def __init__(self, path):
        self.path = str(path)
        self.mm, self.size = _map(self.path)
        if self.size < 64:
            raise ShardFormatError(f"{self.path}: {self.size} bytes, shorter than the 64-byte header")
        (magic, version, header_size, count, self.alignment, ioff, ilen, icrc, _flags) = struct.unpack_from(
            "<8sIIQQQQII", self.mm, 0)
        if magic != b"FLEETSHD":
            raise ShardFormatError(f"{self.path}: not a FleetPrep shard (magic {magic!r})")
        if version != 1 or header_size != 64:
            raise ShardFormatError(f"{self.path}: version {version}, header size {header_size}; this reader knows version 1")
        if ioff + ilen > self.size:
            raise ShardFormatError(f"{self.path}: index at {ioff}+{ilen} lies past the end ({self.size} bytes)")
        raw = self.mm[ioff:ioff + ilen]
        if crc32c(raw) != icrc:
            raise ShardFormatError(f"{self.path}: index CRC32C {crc32c(raw):08x}, header says {icrc:08x}")
        self.index_span = (ioff, ioff + ilen)
        index = json.loads(raw)
        self.schema = index.get("schema") or {"names": [], "units": [], "kinds": []}
        self.records = []
        for e in index["records"]:
            r = Record(e["key"], e["tensor"], e["offset"])
            p = e["offset"] + e["tensor_bytes"]
            n = e["labels"]
            r.labels_offset, r.n_labels, r.mask_offset = p, n, p + 4 * n
            q = p + 5 * n
            r.ann = (q, q + e["annotations_bytes"])
            r.meta = (r.ann[1], r.ann[1] + e["metadata_bytes"])
            r.json = None
            r.crc_span = (e["offset"], e["offset"] + e["length"])
            r.crc = e.get("crc32c")
            if r.crc_span[1] > ioff:
                raise ShardFormatError(f"{self.path}: record {r.key} runs past the index")
            self.records.append(r)
        if len(self.records) != count:
            raise ShardFormatError(f"{self.path}: header counts {count} records, index lists {len(self.records)}")

    def labels(self, r):
        return np.frombuffer(self.mm, dtype="<f4", count=r.n_labels, offset=r.labels_offset)

    def mask(self, r):
        return np.frombuffer(self.mm, dtype=np.uint8, count=r.n_labels, offset=r.mask_offset).view(np.bool_)

    def annotations(self, r):
        return json.loads(self.mm[r.ann[0]:r.ann[1]])

    def metadata(self, r):
        return json.loads(self.mm[r.meta[0]:r.meta[1]])

    def label_names(self, r):
        return list(self.schema.get("names", []))

    def segments(self):
        """Digest segments (docs/shard-format.md): header, each record, the index."""
        return [(0, 64)] + [r.crc_span for r in self.records] + [self.index_span]



_WS = __import__("re").compile(r"[ \t\n\r]*")
_JSON = json.JSONDecoder()


def json_crc_field(member):
    """The byte range of the 8 hex digits of the .json member's top-level "json_crc32c" value,
    or None when the member has no such key. The member is read as JSON (docs/shard-format.md):
    spaces around the colon are allowed, the same key inside a nested value (an annotation) is
    not the field, and no byte pattern is searched for. Raises ValueError when the member is not
    one JSON object, names the key twice, or its value is not 8 hex digits."""
    s = bytes(member).decode("utf-8")
    i = _WS.match(s, 0).end()
    if s[i:i + 1] != "{":
        raise ValueError("the .json member is not a JSON object")
    i = _WS.match(s, i + 1).end()
    found = []
    if s[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if s[i:i + 1] != '"':
                raise ValueError("the .json member is not a JSON object")
            _, end = json.decoder.scanstring(s, i + 1)
            raw_key = s[i + 1:end - 1]
            i = _WS.match(s, end).end()
            if s[i:i + 1] != ":":
                raise ValueError("the .json member is not a JSON object")
            i = _WS.match(s, i + 1).end()
            start = i
            value, i = _JSON.raw_decode(s, i)
            if raw_key == "json_crc32c":
                found.append((start, i, value))
            i = _WS.match(s, i).end()
            if s[i:i + 1] == ",":
                i = _WS.match(s, i + 1).end()
                continue
            if s[i:i + 1] == "}":
                i += 1
                break
            raise ValueError("the .json member is not a JSON object")
    if s[_WS.match(s, i).end():]:
        raise ValueError("the .json member holds more than one JSON value")
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"the .json member names json_crc32c {len(found)} times")
    start, end, value = found[0]
    if not isinstance(value, str) or len(value) != 8 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise ValueError("the .json member's json_crc32c is not 8 hex digits")
    a = len(s[:start + 1].encode("utf-8"))
    return a, a + 8


def _octal(field):
    s = field.rstrip(b"\0 ").strip()
    return int(s, 8) if s else 0


class WdsShard(_MappedShard):
    """A WebDataset .tar shard, indexed once by walking the tar headers; `.npy` data is mapped."""
    format = "wds"

    def __init__(self, path):
        self.path = str(path)
        self.mm, self.size = _map(self.path)
        mm = self.mm
        self.records = []
        self._segments = []
        pos, start, pending = 0, 0, None
        while pos + 512 <= self.size:
            h = mm[pos:pos + 512]
            if h == bytes(512):
                break
            name = h[:100].rstrip(b"\0").decode()
            prefix = h[345:500].rstrip(b"\0").decode()
            if prefix:
                name = prefix + "/" + name
            size = _octal(h[124:136])
            data = pos + 512
            end = data + (size + 511) // 512 * 512
            if end > self.size:
                raise ShardFormatError(f"{self.path}: member {name} runs past the end of the file")
            base = os.path.basename(name)
            key, _, ext = base.partition(".")
            if ext == "npy":
                start, pending = pos, (key, data, size)
            elif ext == "json" and pending is not None and pending[0] == key:
                self.records.append(self._record(pending, (data, data + size)))
                self._segments.append((start, end))
                pending = None
            pos = end
        self._segments.append((pos, self.size))
        self.schema = None

    def _record(self, npy, js):
        key, data, size = npy
        mm = self.mm
        if mm[data:data + 6] != b"\x93NUMPY":
            raise ShardFormatError(f"{self.path}: record {key}: .npy member without the numpy magic")
        major = mm[data + 6]
        if major == 1:
            hlen = struct.unpack_from("<H", mm, data + 8)[0]
            hstart = data + 10
        else:
            hlen = struct.unpack_from("<I", mm, data + 8)[0]
            hstart = data + 12
        header = ast.literal_eval(mm[hstart:hstart + hlen].decode("latin1"))
        if header.get("fortran_order"):
            raise ShardFormatError(f"{self.path}: record {key}: Fortran-order arrays are not written by fleetprep")
        meta = json.loads(mm[js[0]:js[1]])
        spec = dict(meta.get("tensor") or {})
        spec.setdefault("dtype", NPY_DESCR.get(header["descr"], header["descr"]))
        spec["shape"] = list(header["shape"])
        r = Record(meta.get("key", key), spec, hstart + hlen)
        r.json = meta
        r.meta = js  # the .json member's bytes (json_crc32c covers them)
        r.n_labels = len(meta.get("labels") or [])
        r.crc_span = (data, data + size)
        r.crc = meta.get("npy_crc32c")
        return r

    def labels(self, r):
        return np.array([np.nan if v is None else v for v in r.json.get("labels") or []], dtype=np.float32)

    def mask(self, r):
        return np.array(r.json.get("mask") or [], dtype=np.uint8).view(np.bool_)

    def annotations(self, r):
        return r.json.get("annotations")

    def metadata(self, r):
        return r.json.get("metadata")

    def label_names(self, r):
        return list(r.json.get("label_names") or [])

    def segments(self):
        return list(self._segments)

    def check_record(self, r, name, problems, computed):
        super().check_record(r, name, problems, computed)
        member = self.mm[r.meta[0]:r.meta[1]]
        try:
            field = json_crc_field(member)
        except ValueError as e:
            problems.append(f"{name}: record {r.key}: {e}")
            return
        if field is not None:  # json_crc32c: CRC-32C of the member (padding included), its 8 digits read as 0
            a = field[0]
            want = member[a:a + 8]
            if crc32c(member[:a] + b"00000000" + member[a + 8:]) != int(want, 16):
                problems.append(f"{name}: record {r.key}: the .json member's CRC-32C does not match "
                                "(labels, mask or metadata damaged)")


def open_shard(path):
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head == b"FLEETSHD":
        return NativeShard(path)
    if path.endswith(".tar"):
        return WdsShard(path)
    raise ShardFormatError(f"{path}: neither a native shard (magic FLEETSHD) nor a .tar")


def shard_digest(shard, like, known=None):
    """The digest of `shard` in the scheme of `like` ("crc32c-segments:…", "sha256-segments:…", "sha256:…"),
    and the byte ranges between segments that are not zero. `known`: {(start, end): crc32c} computed
    from the file already (check_records), so no span is read twice."""
    scheme = like.split(":", 1)[0]
    mm = shard.mm
    if scheme == "sha256":
        h = hashlib.sha256()
        step = 1 << 24
        for a in range(0, shard.size, step):
            h.update(mm[a:min(a + step, shard.size)])
        return "sha256:" + h.hexdigest(), []
    segs = shard.segments()
    gaps = []
    prev = 0
    for a, b in segs:
        if a < prev or (a > prev and mm[prev:a].strip(b"\0")):
            gaps.append((prev, a))
        prev = max(prev, b)
    if prev != shard.size:
        gaps.append((prev, shard.size))
    if scheme == "sha256-segments":
        entries = b"".join(hashlib.sha256(mm[a:b]).digest() for a, b in segs)
    elif scheme == "crc32c-segments":
        known = known or {}
        entries = b"".join(struct.pack("<QI", b - a, known[(a, b)] if (a, b) in known else crc32c(mm[a:b]))
                           for a, b in segs)
    else:
        raise ShardFormatError(f"{shard.path}: unknown digest scheme {scheme!r}")
    return scheme + ":" + hashlib.sha256(entries).hexdigest(), gaps
