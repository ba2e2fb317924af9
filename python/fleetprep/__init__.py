"""Read FleetPrep datasets from Python: ``fleetprep.open(path)``.

Native (.fps) and WebDataset (.tar) shards are memory-mapped; every sample's ``tensor`` is a
zero-copy numpy view into the map (which stays alive as long as any view does). PyTorch
datasets are in ``fleetprep.torch`` (the only module that imports torch).
"""
import builtins
import json
import os

import numpy as np

from ._crc32c import crc32c
from ._order import epoch_stream, worker_part
from ._shards import NativeShard, ShardFormatError, WdsShard, open_shard, shard_digest

__all__ = ["open", "Dataset", "Sample", "crc32c", "bf16_to_float32", "boxes_to_tensor", "ShardFormatError",
           "MixedShapesError"]
__version__ = "0.1.0"


class MixedShapesError(ValueError):
    """A batch would mix tensor shapes (the dataset holds several; see Dataset.shapes())."""


def bf16_to_float32(a):
    """bfloat16 bit patterns (uint16) to float32: the bits become a float32's top half."""
    a = np.asarray(a)
    return (a.astype(np.uint32) << 16).view(np.float32)


class Sample:
    """One sample. ``tensor`` is a numpy view into the shard's map (bf16: uint16 bit patterns)."""
    __slots__ = ("_shard", "_rec", "index", "_tensor")

    def __init__(self, shard, rec, index):
        self._shard, self._rec, self.index = shard, rec, index
        self._tensor = None

    @property
    def key(self):
        return self._rec.key

    @property
    def tensor(self):
        if self._tensor is None:
            self._tensor = self._shard.tensor(self._rec)
        return self._tensor

    @property
    def dtype(self):
        """The stored dtype: "u8", "f16", "bf16" or "f32"."""
        return self._rec.dtype

    @property
    def shape(self):
        return self._rec.shape

    @property
    def layout(self):
        """"NCHW" ([camera, channel, height, width]) or "NHWC"."""
        return self._rec.layout

    @property
    def labels(self):
        """float32 labels, one per label name (NaN or a held value where the mask is False)."""
        return self._shard.labels(self._rec)

    @property
    def mask(self):
        return self._shard.mask(self._rec)

    @property
    def label_names(self):
        return self._shard.label_names(self._rec)

    @property
    def annotations(self):
        return self._shard.annotations(self._rec)

    @property
    def metadata(self):
        """Clip, source, cameras, camera_mask, frame_index, frame_time, master, master_index, time
        (and, from datasets that record it, per-camera geometry: see boxes_to_tensor)."""
        return self._shard.metadata(self._rec)

    def to_float32(self):
        """The tensor as float32 (a copy): bf16 bit patterns expanded, f16/u8 converted."""
        t = self.tensor
        if self.dtype == "bf16":
            return bf16_to_float32(t)
        return t.astype(np.float32)

    def as_dict(self):
        return {"key": self.key, "tensor": self.tensor, "labels": self.labels, "mask": self.mask,
                "label_names": self.label_names, "annotations": self.annotations, "metadata": self.metadata}

    def __repr__(self):
        return f"Sample({self.key!r}, {self.dtype} {list(self.shape)} {self.layout})"


class Dataset:
    """A dataset directory (index.json) or one shard file. ``len``, ``ds[i]``, iteration in index order."""

    def __init__(self, path):
        self.path = str(path)
        if os.path.isdir(self.path):
            with builtins.open(os.path.join(self.path, "index.json"), "rb") as f:
                self.manifest = json.load(f)
            self.files = [os.path.join(self.path, s["file"]) for s in self.manifest["shards"]]
            self.shard_sizes = [int(s["samples"]) for s in self.manifest["shards"]]
            self.format = self.manifest.get("shardFormat")
        else:
            self.manifest = None
            self.files = [self.path]
            self._shards = {0: open_shard(self.path)}
            self.shard_sizes = [len(self._shards[0])]
            self.format = self._shards[0].format
        if not hasattr(self, "_shards"):
            self._shards = {}
        self.starts = np.concatenate([[0], np.cumsum(self.shard_sizes)]).astype(np.int64)

    # -- shards ------------------------------------------------------------------------------
    def shard(self, s):
        sh = self._shards.get(s)
        if sh is None:
            sh = open_shard(self.files[s])
            if len(sh) != self.shard_sizes[s]:
                raise ShardFormatError(f"{self.files[s]}: holds {len(sh)} samples; index.json says {self.shard_sizes[s]}")
            self._shards[s] = sh
        return sh

    def __getstate__(self):  # DataLoader workers re-open (re-map) shards in their own process
        d = dict(self.__dict__)
        d["_shards"] = {}
        return d

    def locate(self, i):
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sample {i} of {n}")
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        return s, i - int(self.starts[s])

    # -- samples -----------------------------------------------------------------------------
    def __len__(self):
        return int(self.starts[-1])

    def __getitem__(self, i):
        s, j = self.locate(int(i))
        sh = self.shard(s)
        return Sample(sh, sh.records[j], int(i) if i >= 0 else int(i) + len(self))

    def __iter__(self):
        for s in range(len(self.files)):
            sh = self.shard(s)
            base = int(self.starts[s])
            for j, r in enumerate(sh.records):
                yield Sample(sh, r, base + j)

    @property
    def label_names(self):
        if self.manifest is not None:
            return list(self.manifest.get("schema", {}).get("names", []))
        sh = self.shard(0)
        return sh.label_names(sh.records[0]) if sh.records else []

    @property
    def normalization(self):
        """{"scale", "mean", "std"} of the ingest (pixel x in 0...255 became (x/scale - mean[c]) / std[c]),
        or None when index.json does not record it."""
        if self.manifest is None:
            return None
        return (self.manifest.get("transform") or {}).get("normalization")

    def shapes(self):
        """{(dtype, shape, layout): count} over every sample."""
        out = {}
        for s in range(len(self.files)):
            for r in self.shard(s).records:
                k = (r.dtype, r.shape, r.layout)
                out[k] = out.get(k, 0) + 1
        return out

    # -- integrity ---------------------------------------------------------------------------
    def verify(self):
        """The facts `fleetprep verify` checks. With index.json: its own digest and totals, and per
        shard its size and digest, its own index against index.json (sample count, label schema,
        first and last key), zero bytes between digest segments and every record's CRC-32C (in
        wds shards also every .json member's). A single shard: its layout and records. Returns
        the problems as strings naming shard and record; empty when all is well."""
        problems = []
        m = self.manifest
        if m is not None:
            problems += _manifest_problems(os.path.join(self.path, "index.json"), m)
        for s, path in enumerate(self.files):
            name = os.path.basename(path)
            if m is not None:
                info = m["shards"][s]
                if "/" in info["file"] or info["file"].startswith(".") or \
                        [x["file"] for x in m["shards"]].count(info["file"]) > 1:
                    problems.append(f'index.json: shard name "{info["file"]}" is not a plain, unique file name')
                    continue
            try:
                sh = open_shard(path)
            except (OSError, ValueError, KeyError) as e:
                problems.append(f"{name}: {e}")
                continue
            computed = {}
            like = "crc32c-segments:"
            if m is not None:
                like = info.get("digest") or ("sha256:" + info["sha256"] if "sha256" in info else like)
                if len(sh) != info["samples"]:
                    problems.append(f"{name}: holds {len(sh)} samples; index.json says {info['samples']}")
                if sh.size != info["bytes"]:
                    problems.append(f"{name}: size {sh.size} differs from index.json ({info['bytes']})")
                if sh.schema is not None and _schema(sh.schema) != _schema(m.get("schema") or {}):
                    problems.append(f"{name}: its label schema differs from index.json's")
                if sh.records and (sh.records[0].key, sh.records[-1].key) != (info.get("firstKey"), info.get("lastKey")):
                    problems.append(f"{name}: keys {sh.records[0].key}…{sh.records[-1].key} differ from index.json "
                                    f"({info.get('firstKey')}…{info.get('lastKey')})")
            problems += sh.check_records(computed)
            try:
                digest, gaps = shard_digest(sh, like, computed)
            except ShardFormatError as e:
                problems.append(str(e))
                continue
            for a, b in gaps:
                problems.append(f"{name}: bytes {a}..<{b} between segments are not zero")
            if m is not None and digest != like:
                problems.append(f"{name}: digest differs from index.json")
        return problems

    # -- numpy / JAX batches -----------------------------------------------------------------
    def order(self, seed=0, epoch=0, rank=0, world_size=1, buffer_size=1024, shuffle=True):
        """Global indices of this rank's samples in epoch `epoch` (see fleetprep._order)."""
        return epoch_stream(self.shard_sizes, seed, epoch, rank, world_size, buffer_size, shuffle)

    def batches(self, batch_size, seed=0, rank=0, world_size=1, epoch=0, shuffle=True, buffer_size=1024,
                drop_last=False, by_shape=False, start=0):
        """Yields dicts of stacked numpy arrays: tensor [B, ...], labels [B, L], mask [B, L], keys, indices.

        Rank `rank` of `world_size` gets its part of the epoch (exactly once across ranks). A
        dataset with several tensor shapes raises MixedShapesError unless by_shape=True, which
        keeps one batch open per shape (each yielded batch has one shape). `start` skips the first
        samples of this rank's stream (resume)."""
        stream = self.order(seed, epoch, rank, world_size, buffer_size, shuffle)[start:]
        if not by_shape:
            self._require_one_shape()
        open_batches = {}
        for i in stream:
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

    def _require_one_shape(self):
        shapes = self.shapes()
        if len(shapes) > 1:
            listed = ", ".join(f"{d} {list(s)} {l} ×{n}" for (d, s, l), n in sorted(shapes.items(), key=lambda x: -x[1]))
            raise MixedShapesError(f"{self.path} holds {len(shapes)} tensor shapes ({listed}); batches cannot stack them: "
                                   "ingest with --size so every clip has one shape, or batch with by_shape=True")

    def __repr__(self):
        return f"fleetprep.Dataset({self.path!r}, {len(self)} samples in {len(self.files)} {self.format} shard(s))"


def _schema(x):
    return {k: list(x.get(k) or []) for k in ("names", "units", "kinds")}


def _manifest_problems(path, m):
    """index.json's own digest (sha256 of the file without its top-level "digest" line, which is
    the canonical JSON the writer hashed) and its totals."""
    import hashlib
    import re
    problems = []
    with builtins.open(path, "rb") as f:
        data = f.read()
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


def _stack(samples):
    return {"tensor": np.stack([s.tensor for s in samples]),
            "labels": np.stack([s.labels for s in samples]) if samples else None,
            "mask": np.stack([s.mask for s in samples]) if samples else None,
            "keys": [s.key for s in samples],
            "indices": np.array([s.index for s in samples], dtype=np.int64)}


def open(path):  # noqa: A001 - fleetprep.open mirrors the builtin's use
    """A Dataset over a dataset directory (with index.json) or a single .fps / .tar shard."""
    return Dataset(path)


def boxes_to_tensor(boxes, geometry):
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
