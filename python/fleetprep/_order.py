"""Sample order for one epoch: seeded shard shuffle, rank split, bounded shuffle buffer, worker split.

Everything here is index arithmetic (no data is read), so every rank and every DataLoader worker
computes the same plan and takes its own part of it:

1. the shards are permuted with a generator seeded by (seed, epoch);
2. their samples, concatenated in that order, are cut into `world_size` contiguous parts whose
   sizes differ by at most one: rank r reads part r (few shards per rank: locality);
3. the rank's part passes through a shuffle buffer of `buffer_size` samples seeded by
   (seed, epoch, rank): the rank's *stream*;
4. DataLoader worker w of W takes the stream's blocks of `batch_size` samples w, w+W, w+2W, ...
   Torch's DataLoader takes batches from its workers round-robin, so the batches it yields are
   the rank's stream in order; a resume after k samples restarts the split at stream[k:].

Each sample of the epoch is in exactly one rank's part and one worker's blocks: exactly once.
"""
import numpy as np


def _rng(*parts):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFFFFFF for p in parts])))


def epoch_stream(shard_sizes, seed, epoch, rank=0, world_size=1, buffer_size=1024, shuffle=True):
    """Global sample indices of rank `rank`'s stream in epoch `epoch` (numpy int64 array)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..<world_size {world_size}")
    sizes = np.asarray(shard_sizes, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else np.zeros(0, np.int64)
    order = _rng(seed, epoch, 0x5AD).permutation(len(sizes)) if shuffle else np.arange(len(sizes))
    flat = np.concatenate([np.arange(starts[s], starts[s] + sizes[s]) for s in order]) if len(sizes) else np.zeros(0, np.int64)
    n = flat.size
    lo, hi = rank * n // world_size, (rank + 1) * n // world_size
    part = flat[lo:hi]
    if not shuffle or buffer_size <= 1 or part.size <= 1:
        return part
    return _buffer_shuffle(part, buffer_size, _rng(seed, epoch, rank, 0xB0F))


def _buffer_shuffle(items, size, rng):
    """WebDataset-style bounded shuffle: fill a buffer of `size`, emit a random slot, refill it."""
    out = np.empty_like(items)
    size = min(size, items.size)
    buf = items[:size].copy()
    picks = rng.integers(0, size, items.size)
    k = 0
    for j in range(size, items.size):
        p = picks[k]
        out[k] = buf[p]
        buf[p] = items[j]
        k += 1
    rest = buf[rng.permutation(size)]
    out[k:] = rest
    return out


def worker_part(stream, worker, num_workers, batch_size=1):
    """Worker `worker`'s samples of a stream: its blocks of `batch_size`, round-robin."""
    if num_workers <= 1:
        return stream
    b = max(1, int(batch_size))
    pos = np.arange(stream.size)
    return stream[(pos // b) % num_workers == worker]
