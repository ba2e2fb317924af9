"""PyTorch datasets over FleetPrep shards (the only fleetprep module that imports torch).

Tensors are ``torch.from_numpy`` views of the shard's memory map (no copy); bf16 samples become
``torch.bfloat16`` by a ``view`` of the stored bit patterns. A DataLoader's collate stacks
samples into a batch: that stack is the only copy of the pixels.

Resume is a pure function of one global state (see ``FleetIterableDataset.state_dict``): the
epoch, how many samples of the epoch's global stream all ranks together have consumed, and a
fingerprint of what the order depends on. ``FleetLoader`` (a DataLoader) keeps that state for
you with any number of workers; torchdata's ``StatefulDataLoader`` works too.
"""
import multiprocessing
import multiprocessing.context
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader as _DataLoader
from torch.utils.data import Dataset as _MapDataset
from torch.utils.data import IterableDataset as _IterableDataset
from torch.utils.data import get_worker_info
from torch.utils.data._utils.collate import default_collate_fn_map

from . import Dataset, MixedShapesError, Sample
from . import open as _open
from ._order import global_stream, rank_steps, steps_left, worker_steps

__all__ = ["FleetDataset", "FleetIterableDataset", "FleetLoader", "Item", "to_torch", "default_transform",
           "collate", "MixedShapesError", "StateMismatchError", "STATE_VERSION"]

STATE_VERSION = 1
MAX_WORKERS = 64


class StateMismatchError(ValueError):
    """A state_dict that does not belong to this dataset's order; `field` names what differs."""

    def __init__(self, field: str, saved: Any, here: Any, hint: str = "") -> None:
        self.field, self.saved, self.here = field, saved, here
        super().__init__(f"state_dict field {field!r}: the state has {saved!r}, this dataset has {here!r}"
                         + (f"; {hint}" if hint else ""))


def to_torch(sample: Sample) -> torch.Tensor:
    """The sample's tensor as a torch tensor sharing its memory (bf16 -> torch.bfloat16 view)."""
    t = torch.from_numpy(sample.tensor)
    return t.view(torch.bfloat16) if sample.dtype == "bf16" else t


class Item(dict):
    """One sample as default_transform gives it: a dict that torch's default_collate (and
    ``collate``) stacks into a batch with metadata and annotations kept as per-sample lists."""


def default_transform(sample: Sample) -> Item:
    """{"tensor", "labels", "mask", "key", "index", "pad", "metadata", "annotations"}: an Item that
    DataLoader's default collate (and fleetprep.torch.collate) turns into a batch."""
    return Item(tensor=to_torch(sample), labels=torch.from_numpy(sample.labels), mask=torch.from_numpy(sample.mask),
                key=sample.key, index=sample.index, pad=sample.pad, metadata=sample.metadata,
                annotations=sample.annotations)


_STACKED = ("tensor", "labels", "mask")


def collate(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A batch from samples (dicts as default_transform makes them):

    - "tensor", "labels", "mask": stacked ([B, ...], [B, L], [B, L]);
    - "index": int64 [B]; "pad": bool [B] (True for samples repeated to fill the epoch's last step);
    - "key", "metadata", "annotations": lists of B per-sample values (annotations None where a
      sample has none);
    - "boxes": float32 [B, M, 4] (each sample's annotation boxes "xyxy" in source pixels, padded
      with zeros to the most boxes M of any sample), "box_counts": int64 [B], "box_labels": B
      lists of labels; present when any sample has annotations.
    Other keys: stacked when they are tensors or numbers, else lists."""
    if not items:
        return {}
    out: Dict[str, Any] = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        if k in _STACKED or (isinstance(vals[0], torch.Tensor) and all(isinstance(v, torch.Tensor) for v in vals)):
            out[k] = torch.stack(vals)
        elif k == "index":
            out[k] = torch.tensor(vals, dtype=torch.int64)
        elif k == "pad":
            out[k] = torch.tensor(vals, dtype=torch.bool)
        elif k in ("key", "metadata", "annotations"):
            out[k] = list(vals)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            out[k] = torch.tensor(vals)
        else:
            out[k] = list(vals)
    if "annotations" in out and any(a is not None for a in out["annotations"]):
        boxes = [[b for b in (a or {}).get("boxes") or [] if isinstance(b, dict) and "xyxy" in b]
                 if isinstance(a, dict) else [] for a in out["annotations"]]
        m = max(len(b) for b in boxes)
        t = torch.zeros((len(items), m, 4), dtype=torch.float32)
        for i, bs in enumerate(boxes):
            if bs:
                t[i, :len(bs)] = torch.tensor([b["xyxy"] for b in bs], dtype=torch.float32)
        out["boxes"] = t
        out["box_counts"] = torch.tensor([len(b) for b in boxes], dtype=torch.int64)
        out["box_labels"] = [[b.get("label") for b in bs] for bs in boxes]
    return out


def _collate_items(batch: List[Item], *, collate_fn_map: Any = None) -> Dict[str, Any]:
    return collate(batch)


# torch documents extending default_collate through this map; only fleetprep's own Item type is added.
default_collate_fn_map[Item] = _collate_items


def _dataset(source: Any, **kw: Any) -> Dataset:
    return source if isinstance(source, Dataset) else _open(source, **kw)


class FleetDataset(_MapDataset):
    """Map-style: ``ds[i]`` is ``transform(fleetprep sample i)`` (default: default_transform).
    Use with a DataLoader sampler (DistributedSampler for ranks)."""

    def __init__(self, source: Any, transform: Optional[Callable[[Sample], Any]] = None, **open_kw: Any) -> None:
        self.data = _dataset(source, **open_kw)
        self.transform = transform or default_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Any:
        return self.transform(self.data[i])


def _dist_default(rank: Optional[int], world_size: Optional[int]) -> Tuple[int, int]:
    if rank is not None and world_size is not None:
        return int(rank), int(world_size)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# The shared block: what the main process sets (epoch, position) and DataLoader workers read at
# the start of every iteration, also persistent ones. DONE[w] records the token of the iteration
# worker w ran to its end, so the next iteration can tell that the epoch was completed.
_EPOCH, _POS, _TOKEN, _NW, _DONE = 0, 1, 2, 3, 4


def _shared_block(values: Optional[List[int]] = None) -> Any:
    a = multiprocessing.RawArray("q", _DONE + MAX_WORKERS)
    for i, v in enumerate(values or []):
        a[i] = v
    a[_TOKEN] = a[_TOKEN] or 1
    return a


class FleetIterableDataset(_IterableDataset):
    """Iterable: a seeded, epoch-aware order dealt to ranks in global steps and to DataLoader
    workers by step, so each sample is seen exactly once per epoch across all ranks and workers,
    and every rank runs the same number of steps.

    The order (fleetprep._order): shards shuffled by (seed, epoch), their samples through a
    shuffle buffer of `buffer_size`: the epoch's *global stream*, the same at every world size.
    Global step s gives rank r the stream's samples ``[s*W*B + r*B, s*W*B + (r+1)*B)`` (W ranks,
    B = `batch_size`); the epoch's last, short step is padded from the stream's start (the
    padding samples have ``pad`` True) or, with ``drop_last=True``, dropped. DataLoader worker w
    of NW produces the rank's steps w, w+NW, ...; DataLoader takes batches from workers
    round-robin, so its batches are the rank's steps in order. Use ``FleetLoader(ds, ...)`` (or a
    DataLoader with ``batch_size=ds.batch_size``).

    ``set_epoch(n)`` before each epoch (persistent workers follow it). ``state_dict()`` /
    ``load_state_dict()`` resume exactly, at the same or another world size (elastic).

    `source`: a dataset path or URL, or a fleetprep.Dataset; `open_kw` (cache_dir, cache_limit,
    storage_options, check_crc) go to fleetprep.open. ``remote=URL`` is the same as source=URL.
    """

    def __init__(self, source: Any = None, seed: int = 0, shuffle: bool = True, buffer_size: int = 1024,
                 rank: Optional[int] = None, world_size: Optional[int] = None, batch_size: int = 1,
                 drop_last: bool = False, transform: Optional[Callable[[Sample], Any]] = None,
                 allow_mixed_shapes: bool = False, remote: Optional[str] = None, **open_kw: Any) -> None:
        if source is None and remote is None:
            raise TypeError("FleetIterableDataset needs a source (a path, a URL or a fleetprep.Dataset) or remote=URL")
        self.data = _dataset(remote if source is None else source, **open_kw)
        self.seed, self.shuffle, self.buffer_size = int(seed), bool(shuffle), int(buffer_size)
        self.rank, self.world_size = _dist_default(rank, world_size)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in 0..<world_size {self.world_size}")
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        self.drop_last = bool(drop_last)
        self.transform = transform or default_transform
        self._shared = _shared_block()
        self._stream_cache: Optional[Tuple[int, np.ndarray]] = None
        self._inproc: Optional[List[int]] = None  # [token, position, samples yielded] of an in-process iteration
        self._cont: Optional[Dict[str, int]] = None  # a worker's own continuation (StatefulDataLoader)
        self._wstate: Optional[Dict[str, int]] = None  # in a worker: where its production stands
        if not allow_mixed_shapes:
            self.data._require_one_shape("pass allow_mixed_shapes=True to FleetIterableDataset and batch "
                                         "each shape yourself (fleetprep.Dataset.batches(by_shape=True) does)")

    # -- the shared epoch and position -------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The epoch the next iteration reads."""
        return int(self._shared[_EPOCH])

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch's order (workers, persistent ones too, read it when an iteration
        starts). Another epoch starts at its first sample; the current one keeps its position (a
        resumed epoch stays resumed)."""
        if int(epoch) != self.epoch:
            self._move(int(epoch), 0)

    def _move(self, epoch: int, position: int) -> None:
        sh = self._shared
        sh[_EPOCH], sh[_POS], sh[_NW] = epoch, position, 0
        sh[_TOKEN] = sh[_TOKEN] + 1
        self._inproc = None

    def __getstate__(self) -> Dict[str, Any]:
        d = dict(self.__dict__)
        d["_stream_cache"] = None
        if multiprocessing.context.get_spawning_popen() is None:  # pickled for storage, not for a worker
            d["_shared"] = list(self._shared)
        return d

    def __setstate__(self, d: Dict[str, Any]) -> None:
        if isinstance(d.get("_shared"), list):
            d["_shared"] = _shared_block(d["_shared"])
        self.__dict__.update(d)

    # -- the order ---------------------------------------------------------------------------
    def _global(self, epoch: int) -> np.ndarray:
        c = self._stream_cache
        if c is None or c[0] != epoch:
            c = (epoch, global_stream(self.data.shard_sizes, self.seed, epoch, self.buffer_size, self.shuffle))
            self._stream_cache = c
        return c[1]

    def stream(self, epoch: Optional[int] = None, position: int = 0) -> np.ndarray:
        """Global sample indices this rank reads in `epoch` (default: the current one) from global
        position `position` on, in order, padding included (all workers together)."""
        e = self.epoch if epoch is None else int(epoch)
        idx, _ = rank_steps(self._global(e), position, self.rank, self.world_size, self.batch_size, self.drop_last)
        return idx.reshape(-1)

    def __len__(self) -> int:
        """Samples this rank yields in a full epoch (all of its workers together): steps × batch_size."""
        return steps_left(len(self.data), 0, self.world_size, self.batch_size, self.drop_last) * self.batch_size

    def _begin(self, nw: int) -> Tuple[int, int, int]:
        """(epoch, position, token) for an iteration starting now. An epoch whose last iteration ran
        to its end is complete: the next iteration starts it over from its first sample."""
        sh = self._shared
        tok = int(sh[_TOKEN])
        n = int(sh[_NW])
        if n > 0 and all(sh[_DONE + i] == tok for i in range(n)):
            sh[_POS] = 0
            tok += 1
            sh[_TOKEN] = tok
            sh[_NW] = 0
        if sh[_NW] == 0:
            sh[_NW] = nw
        return int(sh[_EPOCH]), int(sh[_POS]), tok

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        w, nw = (0, 1) if info is None else (info.id, info.num_workers)
        if nw > MAX_WORKERS:
            raise ValueError(f"FleetIterableDataset supports up to {MAX_WORKERS} DataLoader workers, not {nw}")
        cont, self._cont = self._cont, None
        if cont is not None:  # a worker resumed by StatefulDataLoader continues its own steps
            epoch, pos, tok, first = cont["epoch"], cont["position"], int(self._shared[_TOKEN]), cont["next_step"]
        else:
            (epoch, pos, tok), first = self._begin(nw), None
        idx, pad = rank_steps(self._global(epoch), pos, self.rank, self.world_size, self.batch_size, self.drop_last)
        inproc = None
        if info is None:
            inproc = self._inproc = [tok, pos, 0]
        data, transform, b = self.data, self.transform, self.batch_size
        steps = worker_steps(len(idx), w, nw, first)
        if data.remote is not None:  # the shards this worker will read, in order: prefetched ahead of it
            rows = idx[steps.start:steps.stop:steps.step].reshape(-1)
            ids = np.searchsorted(data.starts, rows, side="right") - 1
            _, at = np.unique(ids, return_index=True)
            data.remote.plan(ids[np.sort(at)].tolist(), data.manifest["shards"])
        self._wstate = {"epoch": epoch, "position": pos, "next_step": steps.start, "num_workers": nw}
        for s in steps:
            row, prow = idx[s], pad[s]
            for j in range(b):
                i = int(row[j])
                sh_i, rec, _ = data._at(i)
                item = transform(Sample(sh_i, rec, i, bool(prow[j])))
                if inproc is not None:
                    inproc[2] += 1
                if j == b - 1:
                    self._wstate["next_step"] = s + nw
                yield item
        self._shared[_DONE + w] = tok

    # -- state -------------------------------------------------------------------------------
    def _fingerprint(self) -> Dict[str, Any]:
        return {"index": self.data.fingerprint, "dataset_samples": len(self.data), "seed": self.seed,
                "buffer_size": self.buffer_size, "shuffle": self.shuffle, "batch_size": self.batch_size}

    def _state(self, epoch: int, samples: int, **extra: Any) -> Dict[str, Any]:
        return {"version": STATE_VERSION, "epoch": int(epoch), "samples": int(samples), **self._fingerprint(),
                "drop_last": self.drop_last, "world_size": self.world_size, **extra}

    def state_dict(self, num_samples: Optional[int] = None, batches: Optional[int] = None) -> Dict[str, Any]:
        """Where the epoch's *global* stream stands, the same on every rank:

        - "epoch"; "samples": samples of the epoch's global stream consumed by all ranks together
          (whole global steps of world_size × batch_size; the epoch's size when it is complete);
        - the fingerprint of the order: "index" (index.json's digest), "dataset_samples", "seed",
          "buffer_size", "shuffle", "batch_size"; and, informative, "world_size", "drop_last".

        With num_workers=0, or through FleetLoader / StatefulDataLoader, the count is kept for
        you. With a plain DataLoader and workers the consuming happens in other processes: pass
        `batches` (batches your loop took from the DataLoader since the iteration began) or
        `num_samples` (that many × batch_size). A step counts once its batch is taken: batches
        prefetched by workers but not yet taken are not counted and come again after a resume."""
        n = len(self.data)
        info = get_worker_info()
        if info is not None and num_samples is None and batches is None:  # StatefulDataLoader, in a worker
            ws = self._wstate or (dict(self._cont, num_workers=info.num_workers) if self._cont else None) or {"epoch": self.epoch, "position": int(self._shared[_POS]), "next_step": info.id,
                                  "num_workers": info.num_workers}
            done = min(n, ws["position"] + max(0, ws["next_step"] - ws["num_workers"] + 1) * self._step())
            return self._state(ws["epoch"], done, worker=dict(ws, worker=info.id))
        sh = self._shared
        epoch, pos = int(sh[_EPOCH]), int(sh[_POS])
        if num_samples is not None or batches is not None:
            if batches is None:
                if int(num_samples) % self.batch_size:
                    raise ValueError(f"num_samples {num_samples} is not a whole number of batches of "
                                     f"{self.batch_size} (batch_size); pass batches= instead")
                batches = int(num_samples) // self.batch_size
            left = steps_left(n, pos, self.world_size, self.batch_size, self.drop_last)
            if not 0 <= int(batches) <= left:
                raise ValueError(f"batches {batches}: this iteration has {left} steps from position {pos}")
            return self._state(epoch, min(n, pos + int(batches) * self._step()))
        ip = self._inproc
        if ip is not None and ip[0] == sh[_TOKEN]:
            pos = ip[1]
            if sh[_NW] == 1 and sh[_DONE] == ip[0]:
                return self._state(epoch, n)
            return self._state(epoch, min(n, pos + (ip[2] // self.batch_size) * self._step()))
        nws = int(sh[_NW])
        if nws > 0:  # (workers that ran to their end only produced everything: prefetched is not consumed)
            raise RuntimeError("this dataset is being iterated in DataLoader workers, so this process cannot see how "
                               "many batches your loop has taken: use fleetprep.torch.FleetLoader (or torchdata's "
                               "StatefulDataLoader), or pass state_dict(batches=batches taken since the iteration began)")
        return self._state(epoch, pos)

    def _step(self) -> int:
        return self.world_size * self.batch_size

    def load_state_dict(self, state: Dict[str, Any], elastic: bool = True) -> None:
        """Resumes at `state` (from state_dict, FleetLoader.state_dict, or a StatefulDataLoader
        worker). Every field of the fingerprint must match (StateMismatchError names the one that
        does not). The world size may differ (elastic resume: the rest of the epoch's global
        stream is dealt to the new ranks), unless elastic=False."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), not {type(state).__name__}")
        if state.get("version") != STATE_VERSION:
            raise StateMismatchError("version", state.get("version"), STATE_VERSION,
                                     "not a state of this fleetprep version's FleetIterableDataset")
        here = self._fingerprint()
        for k, v in here.items():
            if state.get(k) != v:
                raise StateMismatchError(k, state.get(k), v, "the order would differ, so the resume would not be exact")
        e, k = state.get("epoch"), state.get("samples")
        if not isinstance(e, int) or e < 0:
            raise StateMismatchError("epoch", e, "an epoch number")
        if not isinstance(k, int) or not 0 <= k <= len(self.data):
            raise StateMismatchError("samples", k, f"0...{len(self.data)}")
        ws = state.get("world_size")
        wk = state.get("worker")
        if wk is not None:  # a StatefulDataLoader worker's own snapshot: it continues its own steps
            info = get_worker_info()
            if ws != self.world_size:
                raise StateMismatchError("world_size", ws, self.world_size,
                                         "a StatefulDataLoader state resumes at its own world size; for an elastic "
                                         "resume save FleetLoader's (or the dataset's) global state")
            if info is None or wk.get("num_workers") != info.num_workers:
                raise StateMismatchError("num_workers", wk.get("num_workers"), None if info is None else info.num_workers,
                                         "a StatefulDataLoader state resumes with its own worker count")
            self._cont = {"epoch": e, "position": int(wk["position"]), "next_step": int(wk["next_step"])}
            return
        if ws != self.world_size and not elastic:
            raise StateMismatchError("world_size", ws, self.world_size, "pass elastic=True to resume at another world size")
        self._move(e, k)


class FleetLoader(_DataLoader):
    """A torch DataLoader over a FleetIterableDataset that keeps its global state for you:
    ``loader.state_dict()`` after any number of batches, with any num_workers and start method,
    and ``loader.load_state_dict(state)`` to resume (also at another world size). batch_size is
    the dataset's; collate_fn defaults to fleetprep.torch.collate. Other arguments go to DataLoader
    (persistent_workers=True follows set_epoch)."""

    def __init__(self, dataset: FleetIterableDataset, batch_size: Optional[int] = None,
                 collate_fn: Optional[Callable] = None, **kw: Any) -> None:
        if not isinstance(dataset, FleetIterableDataset):
            raise TypeError("FleetLoader takes a FleetIterableDataset")
        if batch_size is not None and int(batch_size) != dataset.batch_size:
            raise ValueError(f"batch_size {batch_size} differs from the dataset's batch_size {dataset.batch_size}: "
                             "the dataset deals whole batches to ranks and workers")
        for k in ("sampler", "batch_sampler", "shuffle"):
            if kw.get(k):
                raise ValueError(f"FleetLoader takes no {k}: the dataset's order is its own")
        super().__init__(dataset, batch_size=dataset.batch_size, collate_fn=collate_fn or collate, **kw)
        self._taken: Optional[List[int]] = None  # [token, batches taken] of the current iteration

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        nw = max(1, self.num_workers)
        _, _, tok = ds._begin(nw)
        taken = self._taken = [tok, 0]
        for b in super().__iter__():
            taken[1] += 1
            yield b

    def state_dict(self) -> Dict[str, Any]:
        """The dataset's global state after the batches this loader has handed out."""
        ds = self.dataset
        t = self._taken
        if t is not None and t[0] == ds._shared[_TOKEN]:
            return ds.state_dict(batches=t[1])
        return ds.state_dict() if ds._shared[_NW] == 0 else ds._state(ds.epoch, int(ds._shared[_POS]))

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resumes the dataset at `state` (see FleetIterableDataset.load_state_dict)."""
        self.dataset.load_state_dict(state)
        self._taken = None
