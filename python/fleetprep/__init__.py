"""Read FleetPrep datasets from Python: ``fleetprep.open(path)``.

Native (.fps) and WebDataset (.tar) shards are memory-mapped; every sample's ``tensor`` is a
zero-copy numpy view into the map (which stays alive as long as any view does). A dataset may be
a local directory, one shard file, or a remote dataset (``s3://…``, ``https://…``, any fsspec URL)
whose shards are fetched whole into a local cache. PyTorch datasets are in ``fleetprep.torch``
(the only module that imports torch).
"""
import builtins
import hashlib
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ._crc32c import crc32c
from ._order import epoch_stream
from ._shards import NativeShard, ShardFormatError, WdsShard, open_shard, shard_digest  # noqa: F401

__all__ = ["open", "Dataset", "Sample", "crc32c", "bf16_to_float32", "boxes_to_tensor", "ShardFormatError",
           "MixedShapesError", "RemoteError"]
__version__ = "0.2.0"


class MixedShapesError(ValueError):
    """A batch would mix tensor shapes (the dataset holds several; see Dataset.shapes())."""


class RemoteError(OSError):
    """A remote dataset's index.json or shard could not be fetched (names the URL and the cause)."""


def bf16_to_float32(a: Any) -> np.ndarray:
    """bfloat16 bit patterns (uint16) to float32: the bits become a float32's top half."""
    a = np.asarray(a)
    return (a.astype(np.uint32) << 16).view(np.float32)


class Sample:
    """One sample. ``tensor`` is a numpy view into the shard's map (bf16: uint16 bit patterns)."""
    __slots__ = ("_shard", "_rec", "index", "_tensor", "pad")

    def __init__(self, shard: Any, rec: Any, index: int, pad: bool = False) -> None:
        self._shard, self._rec, self.index = shard, rec, index
        self._tensor: Optional[np.ndarray] = None
        #: True for a sample repeated to fill an epoch's last step (FleetIterableDataset, batches()).
        self.pad = pad

    @property
    def key(self) -> str:
        """The sample's key (``<clip>-<frame:06d>``)."""
        return self._rec.key

    @property
    def tensor(self) -> np.ndarray:
        """The tensor: a numpy view into the shard's map (bf16 as uint16 bit patterns)."""
        if self._tensor is None:
            self._tensor = self._shard.tensor(self._rec)
        return self._tensor

    @property
    def dtype(self) -> str:
        """The stored dtype: "u8", "f16", "bf16" or "f32"."""
        return self._rec.dtype

    @property
    def shape(self) -> Tuple[int, ...]:
        """The tensor's shape: [cameras, C, H, W] (NCHW) or [cameras, H, W, C] (NHWC)."""
        return self._rec.shape

    @property
    def layout(self) -> str:
        """"NCHW" ([camera, channel, height, width]) or "NHWC"."""
        return self._rec.layout

    @property
    def labels(self) -> np.ndarray:
        """float32 labels, one per label name (NaN or a held value where the mask is False)."""
        return self._shard.labels(self._rec)

    @property
    def mask(self) -> np.ndarray:
        """bool [L]: True where the label is valid at the sample's time."""
        return self._shard.mask(self._rec)

    @property
    def label_names(self) -> List[str]:
        """The label schema's names (index.json "schema")."""
        return self._shard.label_names(self._rec)

    @property
    def annotations(self) -> Any:
        """The frame's annotation object ({"frame", "boxes": [{"label", "xyxy"}...]}), or None."""
        return self._shard.annotations(self._rec)

    @property
    def metadata(self) -> Dict[str, Any]:
        """Clip, source, cameras, camera_mask, frame_index, frame_time, master, master_index, time
        (and, from datasets that record it, per-camera geometry: see boxes_to_tensor)."""
        return self._shard.metadata(self._rec)

    def to_float32(self) -> np.ndarray:
        """The tensor as float32 (a copy): bf16 bit patterns expanded, f16/u8 converted."""
        t = self.tensor
        if self.dtype == "bf16":
            return bf16_to_float32(t)
        return t.astype(np.float32)

    def as_dict(self) -> Dict[str, Any]:
        """Key, tensor, labels, mask, label names, annotations and metadata in one dict."""
        return {"key": self.key, "tensor": self.tensor, "labels": self.labels, "mask": self.mask,
                "label_names": self.label_names, "annotations": self.annotations, "metadata": self.metadata}

    def __repr__(self):
        return f"Sample({self.key!r}, {self.dtype} {list(self.shape)} {self.layout})"


class Dataset:
    """A dataset: a directory with index.json, one .fps / .tar shard, or a remote dataset URL.

    ``len(ds)``, ``ds[i]`` (an int; negative counts from the end), iteration in index order.
    Shards are opened (memory-mapped) on first use; ``len``, ``shapes()`` and the order need only
    index.json. A remote dataset (``fleetprep.open("s3://bucket/ds")``) fetches each shard whole
    into ``cache_dir`` when first read (see fleetprep._remote)."""

    def __init__(self, path: Any, *, cache_dir: Optional[str] = None, cache_limit: Optional[int] = None,
                 storage_options: Optional[Dict[str, Any]] = None, check_crc: bool = False) -> None:
        self.path = str(path)
        self.check_crc = bool(check_crc)
        self.remote = None
        self._shards: Dict[int, Any] = {}
        if _is_url(self.path):
            from ._remote import RemoteStore
            self.remote = RemoteStore(self.path, cache_dir=cache_dir, cache_limit=cache_limit,
                                      storage_options=storage_options)
            self._index_bytes = self.remote.index_bytes
            self.manifest = _parse_manifest(self.path, self._index_bytes)
            self._from_manifest(self.remote.url)
        elif os.path.isdir(self.path) or os.path.basename(self.path) == "index.json":
            if os.path.basename(self.path) == "index.json":  # open(".../index.json") means its directory
                self.path = os.path.dirname(self.path) or "."
            ipath = os.path.join(self.path, "index.json")
            if not os.path.exists(ipath):
                raise FileNotFoundError(f"{self.path}: a directory without index.json (not a FleetPrep dataset)")
            with builtins.open(ipath, "rb") as f:
                self._index_bytes = f.read()
            self.manifest = _parse_manifest(ipath, self._index_bytes)
            self._from_manifest(self.path)
        else:
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"{self.path}: no such dataset directory or shard")
            self.manifest = None
            self.files = [self.path]
            self._shards = {0: open_shard(self.path, check_crc=self.check_crc)}
            self.shard_sizes = [len(self._shards[0])]
            self.format = self._shards[0].format
            self._index_bytes = None
        self.starts = np.concatenate([[0], np.cumsum(self.shard_sizes)]).astype(np.int64)

    def _from_manifest(self, base: str) -> None:
        m = self.manifest
        names = [s["file"] for s in m["shards"]]
        for s in m["shards"]:  # a shard name is a plain file name: never a path out of the dataset
            f = s["file"]
            if not f or "/" in f or "\\" in f or f.startswith(".") or names.count(f) > 1:
                raise ShardFormatError(f"{self.path}/index.json: shard name {f!r} is not a plain, unique file name")
        self.files = [base.rstrip("/") + "/" + f if self.remote is not None else os.path.join(base, f) for f in names]
        self.shard_sizes = [int(s["samples"]) for s in m["shards"]]
        self.format = m.get("shardFormat")

    # -- shards ------------------------------------------------------------------------------
    def shard(self, s: int) -> Any:
        """Shard `s` (opened and mapped on first use; a remote one fetched into the cache first)."""
        sh = self._shards.get(s)
        if sh is None:
            path = self.files[s] if self.remote is None else self.remote.local(s, self.manifest["shards"][s])
            sh = open_shard(path, check_crc=self.check_crc)
            if len(sh) != self.shard_sizes[s]:
                raise ShardFormatError(f"{self.files[s]}: holds {len(sh)} samples; index.json says {self.shard_sizes[s]}")
            self._shards[s] = sh
        return sh

    def __getstate__(self) -> Dict[str, Any]:  # DataLoader workers re-open (re-map) shards in their own process
        d = dict(self.__dict__)
        d["_shards"] = {}
        return d

    def locate(self, i: int) -> Tuple[int, int]:
        """(shard, record within it) of sample `i`."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sample {i} of {n}")
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        return s, i - int(self.starts[s])

    @property
    def fingerprint(self) -> str:
        """What identifies this dataset's contents: index.json's digest (sha256 of the file where
        it records none); for a single shard, its name and size."""
        if self.manifest is not None:
            return self.manifest.get("digest") or "sha256:" + hashlib.sha256(self._index_bytes).hexdigest()
        return f"shard:{os.path.basename(self.path)}:{self.shard(0).size}"

    # -- samples -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, i: int) -> Sample:
        if isinstance(i, slice):
            raise TypeError("fleetprep.Dataset takes one integer index (ds[i]); for a range use "
                            "[ds[i] for i in range(*sl.indices(len(ds)))]")
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"sample index must be an integer, not {type(i).__name__}")
        i = int(i)
        s, j = self.locate(i)
        sh = self.shard(s)
        return Sample(sh, sh.record(j), i if i >= 0 else i + len(self))

    def __iter__(self) -> Iterator[Sample]:
        for s in range(len(self.files)):
            sh = self.shard(s)
            base = int(self.starts[s])
            for j in range(len(sh)):
                yield Sample(sh, sh.record(j), base + j)

    @property
    def label_names(self) -> List[str]:
        """The label schema's names."""
        if self.manifest is not None:
            return list(self.manifest.get("schema", {}).get("names", []))
        sh = self.shard(0)
        return sh.label_names(sh.record(0)) if len(sh) else []

    @property
    def normalization(self) -> Optional[Dict[str, Any]]:
        """{"scale", "mean", "std"} of the ingest (pixel x in 0...255 became (x/scale - mean[c]) / std[c]),
        or None when index.json does not record it."""
        if self.manifest is None:
            return None
        return (self.manifest.get("transform") or {}).get("normalization")

    def shapes(self) -> Dict[Tuple[str, Tuple[int, ...], str], int]:
        """{(dtype, shape, layout): count} over every sample (from index.json's "shapes" where it has
        them, without opening a shard)."""
        m = self.manifest
        if m is not None and m.get("shapes") is not None and (m.get("tensor") or m.get("transform")):
            t = m.get("tensor") or {}
            tr = m.get("transform") or {}
            dtype = t.get("dtype") or tr.get("dtype")
            layout = t.get("layout") or {"chw": "NCHW", "hwc": "NHWC"}.get(tr.get("layout"), "NCHW")
            if dtype:
                out: Dict[Tuple[str, Tuple[int, ...], str], int] = {}
                for e in m["shapes"]:
                    k = (dtype, tuple(int(x) for x in e["shape"]), layout)
                    out[k] = out.get(k, 0) + int(e["samples"])
                return out
        out = {}
        for s in range(len(self.files)):
            sh = self.shard(s)
            for j in range(len(sh)):
                r = sh.record(j)
                k = (r.dtype, r.shape, r.layout)
                out[k] = out.get(k, 0) + 1
        return out

    # -- integrity ---------------------------------------------------------------------------
    def verify(self, shards: Optional[List[int]] = None) -> List[str]:
        """The facts `fleetprep verify` checks. With index.json: its own digest and totals, and per
        shard its size and digest, its own index against index.json (sample count, label schema,
        first and last key), zero bytes between digest segments and every record's CRC-32C (in
        wds shards also every .json member's). A single shard: its layout and records. Returns
        the problems as strings naming shard and record; empty when all is well. Never raises for
        damaged data. `shards`: check only these shard numbers (index.json is always checked)."""
        problems: List[str] = []
        m = self.manifest
        if m is not None and self._index_bytes is not None:
            try:
                problems += _manifest_problems(self._index_bytes, m)
            except Exception as e:  # noqa: BLE001 - a damaged index.json is a problem, not a crash
                problems.append(f"index.json: {type(e).__name__}: {e}")
        for s, path in enumerate(self.files):
            if shards is not None and s not in shards:
                continue
            name = os.path.basename(path)
            try:
                problems += self._verify_shard(s, path, name, m)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{name}: {e}" if isinstance(e, (ShardFormatError, OSError))
                                else f"{name}: {type(e).__name__}: {e}")
        return problems

    def _verify_shard(self, s: int, path: str, name: str, m: Optional[Dict[str, Any]]) -> List[str]:
        problems: List[str] = []
        try:
            if self.remote is not None:
                path = self.remote.local(s, m["shards"][s])
            sh = open_shard(path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            return [f"{name}: {e}"]
        computed: Dict[Tuple[int, int], int] = {}
        like = "crc32c-segments:"
        info: Dict[str, Any] = {}
        if m is not None:
            info = m["shards"][s]
            like = info.get("digest") or ("sha256:" + info["sha256"] if "sha256" in info else like)
            if len(sh) != info.get("samples"):
                problems.append(f"{name}: holds {len(sh)} samples; index.json says {info.get('samples')}")
            if sh.size != info.get("bytes"):
                problems.append(f"{name}: size {sh.size} differs from index.json ({info.get('bytes')})")
            if sh.schema is not None and _schema(sh.schema) != _schema(m.get("schema") or {}):
                problems.append(f"{name}: its label schema differs from index.json's")
        problems += sh.check_records(computed)
        if m is not None and len(sh):
            first, last = sh.records[0].key, sh.records[-1].key
            if (first, last) != (info.get("firstKey"), info.get("lastKey")):
                problems.append(f"{name}: keys {first}…{last} differ from index.json "
                                f"({info.get('firstKey')}…{info.get('lastKey')})")
        try:
            digest, gaps = shard_digest(sh, like, computed)
        except ShardFormatError as e:
            problems.append(str(e))
            return problems
        for a, b in gaps:
            problems.append(f"{name}: bytes {a}..<{b} between segments are not zero")
        if m is not None and digest != like:
            problems.append(f"{name}: digest differs from index.json")
        return problems

    # -- numpy / JAX batches -----------------------------------------------------------------
    def order(self, seed: int = 0, epoch: int = 0, rank: int = 0, world_size: int = 1, buffer_size: int = 1024,
              shuffle: bool = True, batch_size: int = 1, drop_last: bool = False) -> np.ndarray:
        """Global indices rank `rank` reads in epoch `epoch`, in order (fleetprep._order): the epoch's
        global stream dealt in global steps of world_size × batch_size samples (the last step
        padded from the stream's start, or dropped with drop_last)."""
        return epoch_stream(self.shard_sizes, seed, epoch, rank, world_size, buffer_size, shuffle, batch_size, drop_last)

    def batches(self, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1, epoch: int = 0,
                shuffle: bool = True, buffer_size: int = 1024, drop_last: bool = False, by_shape: bool = False,
                start: int = 0) -> Iterator[Dict[str, Any]]:
        """Yields dicts of stacked numpy arrays: tensor [B, ...], labels [B, L], mask [B, L], keys,
        indices and pad (bool [B]: True for samples repeated to fill the epoch's last step).

        Rank `rank` of `world_size` gets one batch of each global step of world_size × batch_size
        samples, so every rank yields the same number of batches; the last step is padded from
        the epoch's start (marked in "pad"), or dropped with drop_last=True. A dataset with several
        tensor shapes raises MixedShapesError unless by_shape=True, which keeps one batch open per
        shape (each yielded batch has one shape; ranks may then differ in batch count). `start`:
        global samples of the epoch already consumed (a resume point, a whole number of steps)."""
        from ._order import global_stream, rank_steps
        g = global_stream(self.shard_sizes, seed, epoch, buffer_size, shuffle)
        idx, pad = rank_steps(g, int(start), rank, world_size, batch_size, drop_last)
        if not by_shape:
            self._require_one_shape()
            for row, prow in zip(idx, pad):
                yield _stack([Sample(*self._at(int(i)), pad=bool(p)) for i, p in zip(row, prow)])
            return
        open_batches: Dict[Any, List[Sample]] = {}
        for i, p in zip(idx.reshape(-1), pad.reshape(-1)):
            if p:
                continue
            smp = self[int(i)]
            k = (smp.dtype, smp.shape)
            b = open_batches.setdefault(k, [])
            b.append(smp)
            if len(b) == batch_size:
                yield _stack(b)
                del open_batches[k]
        if not drop_last:
            for b in open_batches.values():
                yield _stack(b)

    def _at(self, i: int) -> Tuple[Any, Any, int]:
        s, j = self.locate(i)
        sh = self.shard(s)
        return sh, sh.record(j), i

    def _require_one_shape(self, hint: str = "batch with by_shape=True") -> None:
        shapes = self.shapes()
        if len(shapes) > 1:
            listed = ", ".join(f"{d} {list(s)} {l} ×{n}" for (d, s, l), n in sorted(shapes.items(), key=lambda x: -x[1]))
            raise MixedShapesError(f"{self.path} holds {len(shapes)} tensor shapes ({listed}); batches cannot stack them: "
                                   f"ingest with --size so every clip has one shape, or {hint}")

    def __repr__(self) -> str:
        return f"fleetprep.Dataset({self.path!r}, {len(self)} samples in {len(self.files)} {self.format} shard(s))"


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _parse_manifest(where: str, data: bytes) -> Dict[str, Any]:
    """index.json, checked for what the reader relies on before anything is allocated."""
    try:
        m = json.loads(data)
    except ValueError as e:
        raise ShardFormatError(f"{where}: index.json is not valid JSON ({e})") from None
    if not isinstance(m, dict) or not isinstance(m.get("shards"), list):
        raise ShardFormatError(f"{where}: index.json has no shard list")
    total = 0
    for k, s in enumerate(m["shards"]):
        if not isinstance(s, dict) or not isinstance(s.get("file"), str):
            raise ShardFormatError(f"{where}: index.json shard {k} has no file name")
        n, b = s.get("samples"), s.get("bytes")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0 or not isinstance(b, int) or b < 0:
            raise ShardFormatError(f"{where}: index.json shard {s['file']}: samples/bytes are not counts")
        # A record takes at least 64 bytes (native: aligned records after a 64-byte header; wds: tar headers).
        if n > max(0, b) // 64:
            raise ShardFormatError(f"{where}: index.json shard {s['file']} claims {n} samples in {b} bytes")
        total += n
    if m.get("samples") is not None and m.get("samples") != total:
        raise ShardFormatError(f"{where}: index.json says {m.get('samples')} samples; its shards hold {total}")
    return m


def _schema(x):
    return {k: list(x.get(k) or []) for k in ("names", "units", "kinds")}


def _manifest_problems(data: bytes, m: Dict[str, Any]) -> List[str]:
    """index.json's own digest (sha256 of the file without its top-level "digest" line, which is
    the canonical JSON the writer hashed) and its totals."""
    import re
    problems = []
    d = m.get("digest")
    if d is not None:
        line = re.search(rb'^  "digest" : "sha256:([0-9a-f]{64})",\n', data, re.M)
        if line is None or "sha256:" + line.group(1).decode() != d or \
                hashlib.sha256(data[:line.start()] + data[line.end():]).hexdigest() != line.group(1).decode():
            problems.append("index.json's digest does not match its contents")
    if m.get("samples") != sum(s["samples"] for s in m["shards"]):
        problems.append(f"index.json: samples {m.get('samples')} is not the sum over its shards")
    if m.get("bytes") != sum(s["bytes"] for s in m["shards"]):
        problems.append(f"index.json: bytes {m.get('bytes')} is not the sum over its shards")
    return problems


def _stack(samples: List[Sample]) -> Dict[str, Any]:
    return {"tensor": np.stack([s.tensor for s in samples]),
            "labels": np.stack([s.labels for s in samples]) if samples else None,
            "mask": np.stack([s.mask for s in samples]) if samples else None,
            "keys": [s.key for s in samples],
            "indices": np.array([s.index for s in samples], dtype=np.int64),
            "pad": np.array([s.pad for s in samples], dtype=bool)}


def open(path: Any, *, cache_dir: Optional[str] = None, cache_limit: Optional[int] = None,  # noqa: A001
         storage_options: Optional[Dict[str, Any]] = None, check_crc: bool = False) -> Dataset:
    """A Dataset over a dataset directory (with index.json; the index.json path itself works too),
    a single .fps / .tar shard, or a remote dataset: ``s3://bucket/prefix``, ``https://host/ds``
    or any fsspec URL holding index.json and the shards (fsspec required; s3fs for S3).

    Remote shards are fetched whole into `cache_dir` (default: a directory under the system's
    temporary directory), keeping at most `cache_limit` bytes there (default: unbounded), and
    checked against index.json's digest as they arrive. `storage_options` go to fsspec (e.g.
    ``{"client_kwargs": {"endpoint_url": ...}}`` for an S3-compatible server). check_crc=True
    checks every record's CRC-32C when the record is first read (ShardFormatError if it differs)."""
    return Dataset(path, cache_dir=cache_dir, cache_limit=cache_limit, storage_options=storage_options,
                   check_crc=check_crc)


def boxes_to_tensor(boxes: Any, geometry: Dict[str, Any]) -> np.ndarray:
    """Maps boxes [x0, y0, x1, y1] in source pixels of a camera to pixels of its tensor.

    `geometry` is that camera's entry of ``sample.metadata["geometry"]``: {"source": [W, H],
    "crop": [x, y, w, h], "size": [w, h]} (the crop in source pixels, the tensor's width and
    height). Returns float64 boxes; boxes outside the crop get coordinates outside 0..size."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx, cy, cw, ch = (float(v) for v in geometry["crop"])
    ow, oh = (float(v) for v in geometry["size"])
    sx, sy = ow / cw, oh / ch
    out = np.empty_like(b)
    out[:, 0] = (b[:, 0] - cx) * sx
    out[:, 2] = (b[:, 2] - cx) * sx
    out[:, 1] = (b[:, 1] - cy) * sy
    out[:, 3] = (b[:, 3] - cy) * sy
    return out
