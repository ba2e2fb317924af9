"""Shard readers: native .fps (docs/shard-format.md) and WebDataset .tar, both memory-mapped.

Every tensor handed out is a numpy view into the shard's ``mmap`` (ACCESS_COPY: a private,
copy-on-write mapping, so views are writable for torch.from_numpy and writes never reach the
file). numpy keeps the map alive through the view's ``base`` chain as long as any view exists.
Where the kernel refuses a private mapping of a shard that large (overcommit), the shard is
mapped read-only instead: views are then not writable.

Every field a view depends on is checked when the shard is opened, to the rules `fleetprep
verify` applies (header fields, record offsets, alignment, sizes, overlaps): a record never
addresses bytes outside itself, and counts are checked against the file's size before anything
is allocated. Every failure is a ShardFormatError naming the shard and, where known, the record.
"""
import hashlib
import json
import mmap
import os
import re
import struct
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._crc32c import crc32c

DTYPES = {"u8": np.dtype("u1"), "f16": np.dtype("<f2"), "bf16": np.dtype("<u2"), "f32": np.dtype("<f4")}
NPY_DESCR = {"|u1": "u8", "<f2": "f16", "<u2": "bf16", "<f4": "f32"}
LAYOUTS = ("NCHW", "NHWC", "")
MAX_DIMS = 8
KEY = re.compile(r"[A-Za-z0-9_-]{1,96}\Z")


class ShardFormatError(ValueError):
    """A shard that does not follow docs/shard-format.md (names the file and, when known, the record)."""


def _map(path: str) -> Tuple[mmap.mmap, int]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ShardFormatError(f"{path}: empty file")
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY), size
        except OSError:  # a private writable map is charged as memory; a huge shard may not fit it
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), size


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class Record:
    """Where one sample's parts lie in its shard's map (offsets are absolute)."""
    __slots__ = ("key", "dtype", "shape", "layout", "name", "tensor_offset", "tensor_bytes", "labels_offset",
                 "n_labels", "mask_offset", "ann", "meta", "json", "crc_span", "crc", "checked")

    def __init__(self, key: str, dtype: str, shape: Tuple[int, ...], layout: str, name: str, tensor_offset: int):
        self.key, self.dtype, self.shape, self.layout, self.name = key, dtype, shape, layout, name
        self.tensor_offset = tensor_offset
        n = 1
        for d in shape:
            n *= d
        self.tensor_bytes = n * DTYPES[dtype].itemsize
        self.checked = False


def _tensor_spec(where: str, spec: Any) -> Tuple[str, Tuple[int, ...], str, str]:
    if not isinstance(spec, dict):
        raise ShardFormatError(f"{where}: no tensor description")
    dtype, shape, layout = spec.get("dtype"), spec.get("shape"), spec.get("layout", "")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ShardFormatError(f"{where}: tensor dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if not isinstance(shape, (list, tuple)) or len(shape) > MAX_DIMS or not all(_count(d) for d in shape):
        raise ShardFormatError(f"{where}: tensor shape {shape!r} is not a list of at most {MAX_DIMS} counts")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ShardFormatError(f"{where}: tensor layout {layout!r} is not NCHW or NHWC")
    name = spec.get("name", "frames")
    return dtype, tuple(int(d) for d in shape), layout, name if isinstance(name, str) else "frames"


class _MappedShard:
    """What both shard readers share: records in `self.records`, tensors as views of `self.mm`."""
    path: str
    mm: Any
    size: int
    records: List[Record]
    check_crc: bool = False

    def __len__(self) -> int:
        return len(self.records)

    def record(self, j: int) -> Record:
        """Record `j`; with check_crc its CRC-32C is checked the first time it is read."""
        r = self.records[j]
        if self.check_crc and not r.checked:
            got = crc32c(self.mm[r.crc_span[0]:r.crc_span[1]])
            if got != r.crc:
                stored = "none" if r.crc is None else f"{r.crc:08x}"
                raise ShardFormatError(f"{self.path}: record {r.key}: CRC32C {got:08x}, stored {stored}")
            r.checked = True
        return r

    def tensor(self, r: Record) -> np.ndarray:
        dt = DTYPES[r.dtype]
        return np.frombuffer(self.mm, dtype=dt, count=r.tensor_bytes // dt.itemsize,
                             offset=r.tensor_offset).reshape(r.shape)

    def check_records(self, computed: Optional[Dict[Tuple[int, int], int]] = None) -> List[str]:
        """Each record's CRC-32C against the one stored (and what `check_record` adds); `computed`
        collects the CRCs by byte span for the shard digest."""
        problems: List[str] = []
        name = os.path.basename(self.path)
        for r in self.records:
            self.check_record(r, name, problems, computed)
        return problems

    def check_record(self, r: Record, name: str, problems: List[str], computed: Optional[Dict]) -> None:
        got = crc32c(self.mm[r.crc_span[0]:r.crc_span[1]])
        if computed is not None:
            computed[r.crc_span] = got
        if r.crc is None:
            problems.append(f"{name}: record {r.key}: no checksum stored")
        elif got != r.crc:
            problems.append(f"{name}: record {r.key}: CRC32C {got:08x}, stored {r.crc:08x}")

    def _json(self, r: Record, span: Tuple[int, int], what: str) -> Any:
        try:
            return json.loads(bytes(self.mm[span[0]:span[1]]))
        except ValueError as e:
            raise ShardFormatError(f"{self.path}: record {r.key}: its {what} is not valid JSON ({e})") from None


class NativeShard(_MappedShard):
    """A native .fps shard: header, records at aligned offsets, JSON index at the end."""
    format = "native"

    def __init__(self, path: str, check_crc: bool = False) -> None:
        self.path = str(path)
        self.check_crc = check_crc
        self.mm, self.size = _map(self.path)
        p = self.path
        if self.size < 64:
            raise ShardFormatError(f"{p}: {self.size} bytes, shorter than the 64-byte header")
        (magic, version, header_size, count, self.alignment, ioff, ilen, icrc, flags) = struct.unpack_from(
            "<8sIIQQQQII", self.mm, 0)
        if magic != b"FLEETSHD":
            raise ShardFormatError(f"{p}: not a FleetPrep shard (magic {magic!r})")
        if version != 1 or header_size != 64:
            raise ShardFormatError(f"{p}: version {version}, header size {header_size}; this reader knows version 1")
        a = self.alignment
        if a < 1 or a & (a - 1) or a > 1 << 30:
            raise ShardFormatError(f"{p}: alignment {a} is not a power of two (at most 1 GiB)")
        if flags != 0 or self.mm[56:64] != bytes(8):
            raise ShardFormatError(f"{p}: flags {flags:#x} / reserved header bytes are not zero")
        if ioff < 64 or ilen > self.size or ioff > self.size - ilen:
            raise ShardFormatError(f"{p}: index at {ioff}+{ilen} lies outside the file ({self.size} bytes)")
        if count > (ioff - 64):
            raise ShardFormatError(f"{p}: header counts {count} records in {ioff - 64} bytes of records")
        raw = bytes(self.mm[ioff:ioff + ilen])
        got = crc32c(raw)
        if got != icrc:
            raise ShardFormatError(f"{p}: index CRC32C {got:08x}, header says {icrc:08x}")
        self.index_span = (ioff, ioff + ilen)
        try:
            index = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ShardFormatError(f"{p}: the index is not valid JSON ({type(e).__name__})") from None
        if not isinstance(index, dict) or not isinstance(index.get("records"), list):
            raise ShardFormatError(f"{p}: the index has no record list")
        schema = index.get("schema") or {"names": [], "units": [], "kinds": []}
        if not isinstance(schema, dict) or not isinstance(schema.get("names", []), list):
            raise ShardFormatError(f"{p}: the index's label schema is not an object with names")
        self.schema = schema
        entries = index["records"]
        if len(entries) != count:
            raise ShardFormatError(f"{p}: header counts {count} records, index lists {len(entries)}")
        self.records = []
        prev_end, prev_key = 64, None
        for k, e in enumerate(entries):
            self.records.append(self._entry(k, e, prev_end, prev_key, ioff))
            prev_end, prev_key = self.records[-1].crc_span[1], self.records[-1].key

    def _entry(self, k: int, e: Any, prev_end: int, prev_key: Optional[str], ioff: int) -> Record:
        p = self.path
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            raise ShardFormatError(f"{p}: index entry {k} has no key")
        key = e["key"]
        where = f"{p}: record {key}"
        dtype, shape, layout, name = _tensor_spec(where, e.get("tensor"))
        fields = ("offset", "length", "tensor_bytes", "labels", "annotations_bytes", "metadata_bytes")
        bad = [f for f in fields if not _count(e.get(f))]
        if bad:
            raise ShardFormatError(f"{where}: {', '.join(bad)} not a count")
        off, length, n = e["offset"], e["length"], e["labels"]
        r = Record(key, dtype, shape, layout, name, off)
        if e["tensor_bytes"] != r.tensor_bytes:
            raise ShardFormatError(f"{where}: tensor_bytes {e['tensor_bytes']} differs from its shape "
                                   f"{list(shape)} {dtype} ({r.tensor_bytes} bytes)")
        if length != r.tensor_bytes + 5 * n + e["annotations_bytes"] + e["metadata_bytes"]:
            raise ShardFormatError(f"{where}: length {length} is not the sum of its parts")
        if off % self.alignment:
            raise ShardFormatError(f"{where}: offset {off} is not a multiple of the alignment {self.alignment}")
        if off < prev_end:
            before = "the header" if prev_key is None else f"record {prev_key} (which ends at {prev_end})"
            raise ShardFormatError(f"{where}: starts at {off}, inside {before}: records overlap")
        if off > ioff or length > ioff - off:
            raise ShardFormatError(f"{where}: bytes {off}..<{off + length} overlap the index (records end at {ioff})")
        crc = e.get("crc32c")
        if crc is not None and not (_count(crc) and crc <= 0xFFFFFFFF):
            raise ShardFormatError(f"{where}: crc32c {crc!r} is not a 32-bit value")
        q = off + r.tensor_bytes
        r.labels_offset, r.n_labels, r.mask_offset = q, n, q + 4 * n
        q += 5 * n
        r.ann = (q, q + e["annotations_bytes"])
        r.meta = (r.ann[1], r.ann[1] + e["metadata_bytes"])
        r.json = None
        r.crc_span = (off, off + length)
        r.crc = crc
        return r

    def labels(self, r: Record) -> np.ndarray:
        return np.frombuffer(self.mm, dtype="<f4", count=r.n_labels, offset=r.labels_offset)

    def mask(self, r: Record) -> np.ndarray:
        return np.frombuffer(self.mm, dtype=np.uint8, count=r.n_labels, offset=r.mask_offset).view(np.bool_)

    def annotations(self, r: Record) -> Any:
        return self._json(r, r.ann, "annotation JSON")

    def metadata(self, r: Record) -> Any:
        return self._json(r, r.meta, "metadata JSON")

    def label_names(self, r: Record) -> List[str]:
        return list(self.schema.get("names", []))

    def segments(self) -> List[Tuple[int, int]]:
        """Digest segments (docs/shard-format.md): header, each record, the index."""
        return [(0, 64)] + [r.crc_span for r in self.records] + [self.index_span]


NPY_HEADER = re.compile(r"\{'descr': '([|<>][a-z][0-9]+)', 'fortran_order': (False|True), 'shape': \(([0-9, ]*)\), *\} *\n?\Z")

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


def _octal(p: str, field: bytes) -> int:
    s = field.rstrip(b"\0 ").strip()
    if not s:
        return 0
    if not re.fullmatch(rb"[0-7]{1,12}", s):
        raise ShardFormatError(f"{p}: a tar header's size field {bytes(field)!r} is not octal")
    return int(s, 8)


class WdsShard(_MappedShard):
    """A WebDataset .tar shard, indexed once by walking the tar headers; `.npy` data is mapped."""
    format = "wds"

    def __init__(self, path: str, check_crc: bool = False) -> None:
        self.path = str(path)
        self.check_crc = check_crc
        self.mm, self.size = _map(self.path)
        mm = self.mm
        self.records = []
        self._segments: List[Tuple[int, int]] = []
        pos, start, pending = 0, 0, None
        while pos + 512 <= self.size:
            h = bytes(mm[pos:pos + 512])
            if h == bytes(512):
                break
            try:
                name = h[:100].rstrip(b"\0").decode()
                prefix = h[345:500].rstrip(b"\0").decode()
            except UnicodeDecodeError:
                raise ShardFormatError(f"{self.path}: tar header at {pos}: member name is not UTF-8") from None
            if prefix:
                name = prefix + "/" + name
            size = _octal(self.path, h[124:136])
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

    def _record(self, npy: Tuple[str, int, int], js: Tuple[int, int]) -> Record:
        key, data, size = npy
        mm = self.mm
        where = f"{self.path}: record {key}"
        if size < 10 or bytes(mm[data:data + 6]) != b"\x93NUMPY":
            raise ShardFormatError(f"{where}: .npy member without the numpy magic")
        major = mm[data + 6]
        if major == 1:
            hlen, hstart = struct.unpack_from("<H", mm, data + 8)[0], data + 10
        elif major in (2, 3) and size >= 12:
            hlen, hstart = struct.unpack_from("<I", mm, data + 8)[0], data + 12
        else:
            raise ShardFormatError(f"{where}: .npy version {major} is not 1, 2 or 3")
        if hlen > size - (hstart - data):
            raise ShardFormatError(f"{where}: .npy header of {hlen} bytes runs past its member")
        m = NPY_HEADER.match(bytes(mm[hstart:hstart + hlen]).decode("latin1"))
        if m is None:
            raise ShardFormatError(f"{where}: .npy header is not the one numpy writes for a C-order array")
        if m.group(2) == "True":
            raise ShardFormatError(f"{where}: Fortran-order arrays are not written by fleetprep")
        descr = m.group(1)
        if descr not in NPY_DESCR:
            raise ShardFormatError(f"{where}: .npy dtype {descr} is not one fleetprep writes")
        dims = [d.strip() for d in m.group(3).split(",") if d.strip()]
        if len(dims) > MAX_DIMS:
            raise ShardFormatError(f"{where}: .npy shape has more than {MAX_DIMS} dimensions")
        shape = tuple(int(d) for d in dims)
        try:
            meta = json.loads(bytes(mm[js[0]:js[1]]))
        except (ValueError, RecursionError) as e:
            raise ShardFormatError(f"{where}: its .json member is not valid JSON ({type(e).__name__})") from None
        if not isinstance(meta, dict):
            raise ShardFormatError(f"{where}: its .json member is not an object")
        spec = dict(meta.get("tensor") or {}) if isinstance(meta.get("tensor"), dict) else {}
        spec.setdefault("dtype", NPY_DESCR[descr])
        if not isinstance(spec["dtype"], str) or spec["dtype"] not in DTYPES or DTYPES[spec["dtype"]] != np.dtype(descr):
            raise ShardFormatError(f"{where}: tensor dtype {spec['dtype']!r} differs from the .npy's {descr}")
        spec["shape"] = list(shape)
        dtype, shape, layout, name = _tensor_spec(where, spec)
        r = Record(meta.get("key", key) if isinstance(meta.get("key", key), str) else key, dtype, shape, layout, name,
                   hstart + hlen)
        if r.tensor_bytes != size - (hstart + hlen - data):
            raise ShardFormatError(f"{where}: .npy data is {size - (hstart + hlen - data)} bytes; its shape "
                                   f"{list(shape)} {dtype} needs {r.tensor_bytes}")
        labels, mask = meta.get("labels") or [], meta.get("mask") or []
        if not isinstance(labels, list) or not isinstance(mask, list) or len(mask) != len(labels) or \
                not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in labels) or \
                not all(v in (0, 1, True, False) for v in mask):
            raise ShardFormatError(f"{where}: labels and mask are not two lists of numbers of one length")
        if not isinstance(meta.get("label_names") or [], list):
            raise ShardFormatError(f"{where}: label_names is not a list")
        crc = meta.get("npy_crc32c")
        if crc is not None and not (_count(crc) and crc <= 0xFFFFFFFF):
            raise ShardFormatError(f"{where}: npy_crc32c {crc!r} is not a 32-bit value")
        r.json = meta
        r.meta = js  # the .json member's bytes (json_crc32c covers them)
        r.ann = js
        r.n_labels = len(labels)
        r.crc_span = (data, data + size)
        r.crc = crc
        return r

    def labels(self, r: Record) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in r.json.get("labels") or []], dtype=np.float32)

    def mask(self, r: Record) -> np.ndarray:
        return np.array(r.json.get("mask") or [], dtype=np.uint8).view(np.bool_)

    def annotations(self, r: Record) -> Any:
        return r.json.get("annotations")

    def metadata(self, r: Record) -> Any:
        return r.json.get("metadata")

    def label_names(self, r: Record) -> List[str]:
        return list(r.json.get("label_names") or [])

    def segments(self) -> List[Tuple[int, int]]:
        return list(self._segments)

    def check_record(self, r: Record, name: str, problems: List[str], computed: Optional[Dict]) -> None:
        super().check_record(r, name, problems, computed)
        member = bytes(self.mm[r.meta[0]:r.meta[1]])
        try:
            field = json_crc_field(member)
        except ValueError as e:
            problems.append(f"{name}: record {r.key}: {e}")
            return
        if field is not None:  # json_crc32c: CRC-32C of the member (padding included), its 8 digits read as 0
            a = field[0]
            want = member[a:a + 8]
            if not re.fullmatch(rb"[0-9a-f]{8}", want) or \
                    crc32c(member[:a] + b"00000000" + member[a + 8:]) != int(want, 16):
                problems.append(f"{name}: record {r.key}: the .json member's CRC-32C does not match "
                                "(labels, mask or metadata damaged)")


def open_shard(path: str, check_crc: bool = False) -> _MappedShard:
    """A NativeShard or WdsShard for the file at `path` (by its magic, else its .tar name)."""
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head == b"FLEETSHD":
        return NativeShard(path, check_crc)
    if path.endswith(".tar"):
        return WdsShard(path, check_crc)
    raise ShardFormatError(f"{path}: neither a native shard (magic FLEETSHD) nor a .tar")


def shard_digest(shard: _MappedShard, like: str, known: Optional[Dict[Tuple[int, int], int]] = None):
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


def file_digest(path: str, like: str) -> str:
    """The digest of the shard file at `path` in the scheme of `like` (for checking a download)."""
    sh = open_shard(path)
    digest, _ = shard_digest(sh, like)
    return digest
