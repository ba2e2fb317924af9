"""Sample order: one global stream per epoch, dealt to ranks in global steps, then to workers.

Everything here is index arithmetic (no data is read), so every rank and every DataLoader worker
computes the same plan and takes its own part of it:

1. the shards are permuted with a generator seeded by (seed, epoch);
2. their samples, concatenated in that order, pass through a shuffle buffer of `buffer_size`
   samples seeded by (seed, epoch): the epoch's *global stream*. It does not depend on the world
   size, the batch size or the worker count;
3. the stream is consumed in *global steps* of ``world_size * batch_size`` samples: in step s,
   rank r takes the stream's samples ``[s*W*B + r*B, s*W*B + (r+1)*B)``, so every rank takes one
   batch per step and every rank runs the same number of steps. The last, short step is padded
   with samples from the stream's start (``drop_last=False``) or dropped (``drop_last=True``);
4. DataLoader worker w of NW takes the rank's steps w, w+NW, w+2NW, ... Torch's DataLoader
   takes batches from its workers round-robin, so the batches it yields are the rank's steps in
   order.

A position in the epoch is one number: how many samples of the global stream are consumed. A
resume at position k (always a whole number of global steps, or the epoch's end) deals the rest
of the stream ``stream[k:]`` the same way, at any world size: this is what makes an elastic
resume exact.
"""
from typing import Optional, Tuple

import numpy as np


def _rng(*parts: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFFFFFF for p in parts])))


def global_stream(shard_sizes, seed: int, epoch: int, buffer_size: int = 1024, shuffle: bool = True) -> np.ndarray:
    """Global sample indices in epoch `epoch`'s order (numpy int64), the same for every rank."""
    sizes = np.asarray(shard_sizes, dtype=np.int64)
    if not len(sizes):
        return np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    order = _rng(seed, epoch, 0x5AD).permutation(len(sizes)) if shuffle else np.arange(len(sizes))
    flat = np.concatenate([np.arange(starts[s], starts[s] + sizes[s], dtype=np.int64) for s in order])
    if not shuffle or buffer_size <= 1 or flat.size <= 1:
        return flat
    return _buffer_shuffle(flat, int(buffer_size), _rng(seed, epoch, 0xB0F))


def _buffer_shuffle(items: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """WebDataset-style bounded shuffle: fill a buffer of `size`, emit a random slot, refill it."""
    out = np.empty_like(items)
    size = min(size, items.size)
    buf = items[:size].copy()
    picks = rng.integers(0, size, items.size).tolist()
    src = items.tolist()
    b = buf.tolist()
    o = [0] * items.size
    k = 0
    for j in range(size, len(src)):
        p = picks[k]
        o[k] = b[p]
        b[p] = src[j]
        k += 1
    out[:k] = o[:k]
    out[k:] = np.asarray(b, dtype=items.dtype)[rng.permutation(size)]
    return out


def steps_left(n: int, position: int, world_size: int, batch_size: int, drop_last: bool) -> int:
    """Global steps from `position` to the epoch's end (each rank runs this many batches)."""
    rest = max(0, int(n) - int(position))
    step = world_size * batch_size
    return rest // step if drop_last else -(-rest // step)


def rank_steps(stream: np.ndarray, position: int, rank: int, world_size: int, batch_size: int,
               drop_last: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Rank `rank`'s batches from stream position `position` on: an int64 array [steps, batch_size]
    of global sample indices, and a bool array of the same shape that is True for padding (samples
    from the stream's start that fill the epoch's last step when drop_last is False)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..<world_size {world_size}")
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size} must be at least 1")
    n = stream.size
    steps = steps_left(n, position, world_size, batch_size, drop_last)
    step = world_size * batch_size
    rest = stream[min(position, n):]
    need = steps * step
    pad = np.zeros(need, dtype=bool)
    if need > rest.size:  # fill the last step from the stream's start (np.resize repeats it)
        pad[rest.size:] = True
        rest = np.concatenate([rest, np.resize(stream, need - rest.size) if n else np.zeros(0, np.int64)])
    rest = rest[:need].reshape(steps, world_size, batch_size)
    return rest[:, rank, :], pad.reshape(steps, world_size, batch_size)[:, rank, :]


def worker_steps(steps: int, worker: int, num_workers: int, first: Optional[int] = None) -> range:
    """The steps worker `worker` of `num_workers` produces: w, w+NW, ... (from `first` when given)."""
    if num_workers <= 1:
        return range(0 if first is None else first, steps)
    return range(worker if first is None else first, steps, num_workers)


def epoch_stream(shard_sizes, seed, epoch, rank=0, world_size=1, buffer_size=1024, shuffle=True, batch_size=1,
                 drop_last=False):
    """Global sample indices rank `rank` reads in epoch `epoch`, in order (padding included)."""
    g = global_stream(shard_sizes, seed, epoch, buffer_size, shuffle)
    idx, _ = rank_steps(g, 0, rank, world_size, batch_size, drop_last)
    return idx.reshape(-1)
