"""PyTorch datasets over FleetPrep shards (the only fleetprep module that imports torch).

Tensors are ``torch.from_numpy`` views of the shard's memory map (no copy); bf16 samples become
``torch.bfloat16`` by a ``view`` of the stored bit patterns. A DataLoader's collate stacks
samples into a batch: that stack is the only copy of the pixels.
"""
import os

import torch
from torch.utils.data import Dataset as _MapDataset
from torch.utils.data import IterableDataset as _IterableDataset
from torch.utils.data import get_worker_info

from . import Dataset, MixedShapesError
from ._order import worker_part
from . import open as _open

__all__ = ["FleetDataset", "FleetIterableDataset", "to_torch", "default_transform", "MixedShapesError"]


def to_torch(sample):
    """The sample's tensor as a torch tensor sharing its memory (bf16 -> torch.bfloat16 view)."""
    t = torch.from_numpy(sample.tensor)
    return t.view(torch.bfloat16) if sample.dtype == "bf16" else t


def default_transform(sample):
    """{"tensor", "labels", "mask", "key", "index"}: what default_collate can stack."""
    return {"tensor": to_torch(sample), "labels": torch.from_numpy(sample.labels),
            "mask": torch.from_numpy(sample.mask), "key": sample.key, "index": sample.index}


def _dataset(source):
    return source if isinstance(source, Dataset) else _open(source)


class FleetDataset(_MapDataset):
    """Map-style: ``ds[i]`` is ``transform(fleetprep sample i)`` (default: default_transform).
    Use with a DataLoader sampler (DistributedSampler for ranks)."""

    def __init__(self, source, transform=None):
        self.data = _dataset(source)
        self.transform = transform or default_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.transform(self.data[i])


def _dist_default(rank, world_size):
    if rank is not None and world_size is not None:
        return rank, world_size
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class FleetIterableDataset(_IterableDataset):
    """Iterable: a seeded, epoch-aware order split by (rank, world_size) and by DataLoader worker,
    so that each sample is seen exactly once per epoch across all ranks and workers.

    The order (fleetprep._order): shards shuffled by (seed, epoch), the concatenation cut into one
    contiguous part per rank, a shuffle buffer of `buffer_size` samples, then blocks of
    `batch_size` dealt to the DataLoader's workers round-robin. Pass the DataLoader's batch_size:
    its output is then this rank's stream in order, which is what makes state_dict() exact.

    Call ``set_epoch(n)`` before each epoch. ``state_dict()`` / ``load_state_dict()`` resume in
    the middle of an epoch with exactly the samples not yet seen.
    """

    def __init__(self, source, seed=0, shuffle=True, buffer_size=1024, rank=None, world_size=None, batch_size=1,
                 transform=None, allow_mixed_shapes=False):
        self.data = _dataset(source)
        self.seed, self.shuffle, self.buffer_size = int(seed), bool(shuffle), int(buffer_size)
        self.rank, self.world_size = _dist_default(rank, world_size)
        self.batch_size = int(batch_size)
        self.transform = transform or default_transform
        self.epoch = 0
        self._start = 0      # samples of this epoch's stream to skip in the next iteration (resume)
        self._iter_start = 0  # where the current iteration began
        self._yielded = 0     # samples yielded in this process by the current iteration (num_workers=0)
        if not allow_mixed_shapes:
            self.data._require_one_shape()

    def set_epoch(self, epoch):
        """Selects the epoch's order. A resumed epoch keeps its resume point."""
        if int(epoch) != self.epoch:
            self._start = 0
        self.epoch = int(epoch)

    def stream(self):
        """Global sample indices of this rank's stream for the current epoch (all workers)."""
        return self.data.order(self.seed, self.epoch, self.rank, self.world_size, self.buffer_size, self.shuffle)

    def __len__(self):
        """Samples this rank yields in a full epoch (all of its workers together)."""
        n = len(self.data)
        return (self.rank + 1) * n // self.world_size - self.rank * n // self.world_size

    def __iter__(self):
        stream = self.stream()[self._start:]
        self._iter_start, self._yielded = self._start, 0
        self._start = 0
        info = get_worker_info()
        if info is not None:
            stream = _worker_part(stream, info.id, info.num_workers, self.batch_size)
        for i in stream:
            item = self.transform(self.data[int(i)])
            self._yielded += 1
            yield item

    def state_dict(self, num_samples=None):
        """{"epoch", "samples", "seed", "rank", "world_size"}: `samples` is how many samples of this
        epoch's stream this rank has consumed. With DataLoader workers the consuming happens in
        another process: pass `num_samples`, the samples your loop has taken from the DataLoader
        since the current iteration began (batches × batch_size)."""
        done = self._yielded if num_samples is None else int(num_samples)
        return {"epoch": self.epoch, "samples": self._iter_start + done, "seed": self.seed,
                "rank": self.rank, "world_size": self.world_size}

    def load_state_dict(self, state):
        if int(state.get("world_size", self.world_size)) != self.world_size:
            raise ValueError(f"state is from world_size {state['world_size']}, this dataset has {self.world_size}")
        self.seed = int(state.get("seed", self.seed))
        self.epoch = int(state["epoch"])
        self._start = int(state["samples"])


def _worker_part(stream, worker, num_workers, batch_size):
    return worker_part(stream, worker, num_workers, batch_size)
