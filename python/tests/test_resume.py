"""Resume as a pure function of one global state: save/load cycles with DataLoader workers under
fork and spawn, FleetLoader, torchdata's StatefulDataLoader, persistent workers, state checks.

Oracle: the epoch's order transcribed here from docs/python.md's rule (shard permutation and
shuffle buffer seeded by (seed, epoch), global steps of world_size x batch_size), and the
sample keys `fleetprep dump` (the Swift reader) reports for each index."""
import itertools

import numpy as np
import pytest

import fleetprep
from conftest import dump, require_module

torch = require_module("torch")
if torch is not None:
    from torch.utils.data import DataLoader

    from fleetprep.torch import FleetIterableDataset, FleetLoader, StateMismatchError, collate

NAME = "native-u8-chw-long"
B = 4


def oracle_stream(shard_sizes, seed, epoch, buffer_size):
    """The documented order, written out again with numpy alone."""
    def rng(*p):
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(p))))
    starts = np.cumsum([0] + list(shard_sizes))
    perm = rng(seed, epoch, 0x5AD).permutation(len(shard_sizes))
    flat = [i for s in perm for i in range(starts[s], starts[s + 1])]
    r = rng(seed, epoch, 0xB0F)
    size = min(buffer_size, len(flat))
    picks = r.integers(0, size, len(flat))
    buf, out = flat[:size], []
    for k, item in enumerate(flat[size:]):
        out.append(buf[picks[k]])
        buf[picks[k]] = item
    return out + [buf[j] for j in r.permutation(size)]


def oracle_rank(stream, position, rank, world, batch, drop_last=False):
    """(indices, pad flags) rank `rank` gets from global position `position` on."""
    rest = list(stream[position:])
    step = world * batch
    steps = len(rest) // step if drop_last else -(-len(rest) // step)
    pads = [False] * len(rest) + [True] * (steps * step - len(rest))
    rest += [stream[j % len(stream)] for j in range(steps * step - len(rest))]
    idx, pad = [], []
    for s in range(steps):
        a = s * step + rank * batch
        idx += rest[a:a + batch]
        pad += pads[a:a + batch]
    return idx, pad


@pytest.fixture(scope="module")
def path(datasets):
    return datasets(NAME)


def _ds(path, **kw):
    args = dict(seed=3, buffer_size=16, batch_size=B, rank=0, world_size=1)
    args.update(kw)
    return FleetIterableDataset(path, **args)


def _take(loader, k):
    idx, pad, keys = [], [], []
    for b in (loader if k is None else itertools.islice(loader, k)):
        idx += b["index"].tolist()
        pad += b["pad"].tolist()
        keys += b["key"]
    return idx, pad, keys


def test_order_is_the_documented_one(path, fleetprep_bin):
    ds = fleetprep.open(path)
    keys = [r["key"] for r in dump(fleetprep_bin, path)]
    want = oracle_stream(ds.shard_sizes, 3, 2, 16)
    assert sorted(want) == list(range(len(ds)))
    for rank in range(3):
        d = _ds(path, rank=rank, world_size=3)
        d.set_epoch(2)
        idx, pad, got_keys = _take(FleetLoader(d), None)
        assert (idx, pad) == oracle_rank(want, 0, rank, 3, B)
        assert got_keys == [keys[i] for i in idx]  # the samples the Swift reader has at those indices


@pytest.mark.parametrize("workers,ctx", [(0, None), (2, "fork"), (2, "spawn"), (4, "fork"), (4, "spawn"),
                                         (2, "forkserver")])
def test_three_save_load_cycles_are_exact(path, workers, ctx):
    """Epoch 1 read in four pieces, a new dataset and loader each time, the state passed along
    (num_workers=0 starts no process, so it has no start method)."""
    n = len(fleetprep.open(path))
    want_idx, want_pad = oracle_rank(oracle_stream(fleetprep.open(path).shard_sizes, 3, 1, 16), 0, 0, 1, B)
    steps = len(want_idx) // B
    cuts = [steps // 5, steps // 4, steps // 3]  # batches per piece; the 4th piece runs to the end
    state, idx, pad, consumed = None, [], [], 0
    for piece in cuts + [None]:
        ds = _ds(path)
        loader = FleetLoader(ds, num_workers=workers, multiprocessing_context=ctx if workers else None)
        if state is not None:
            loader.load_state_dict(state)
        ds.set_epoch(1)
        i, p, _ = _take(loader, piece)
        idx += i
        pad += p
        state = loader.state_dict()
        consumed = n if piece is None else consumed + piece * B
        assert state["samples"] == consumed and state["epoch"] == 1, (piece, state)
    assert (idx, pad) == (want_idx, want_pad)
    assert sorted(i for i, p in zip(idx, pad) if not p) == list(range(n))


def test_plain_dataloader_second_resume_counts_from_the_resume_point(path):
    """Issue 24's first case: resume, train 4 batches, save: the state counts both parts."""
    ds = _ds(path)
    ds.set_epoch(0)
    first = _take(DataLoader(ds, batch_size=B, num_workers=2), 1)[0]
    s1 = ds.state_dict(batches=1)
    ds2 = _ds(path)
    ds2.load_state_dict(s1)
    second = _take(DataLoader(ds2, batch_size=B, num_workers=2), 2)[0]
    s2 = ds2.state_dict(num_samples=2 * B)
    assert s2["samples"] == 3 * B
    with pytest.raises(RuntimeError, match="FleetLoader"):
        ds2.state_dict()  # workers consumed: this process cannot know how much
    ds3 = _ds(path)
    ds3.load_state_dict(s2)
    rest = _take(DataLoader(ds3, batch_size=B, num_workers=2), None)[0]
    full = _take(DataLoader(_ds(path), batch_size=B, num_workers=2), None)[0]
    assert first + second + rest == full
    # Iterating the resumed dataset again in the same epoch: the epoch was completed, so it starts over.
    assert _take(DataLoader(ds3, batch_size=B, num_workers=2), None)[0] == full
    ds0 = _ds(path)
    ds0.load_state_dict(s2)
    assert [x["index"] for x in ds0] == rest and [x["index"] for x in ds0] == full  # in-process alike


def test_stateful_dataloader(path):
    require_module("torchdata")
    import torchdata.stateful_dataloader as sdl
    for workers in (0, 2):
        full = _take(FleetLoader(_ds(path), num_workers=0), None)[0]
        got, state = [], None
        for piece in (1, 2, 1, None):
            ds = _ds(path)
            dl = sdl.StatefulDataLoader(ds, batch_size=B, num_workers=workers, collate_fn=collate)
            if state is not None:
                dl.load_state_dict(state)
            got += _take(dl, piece)[0]
            state = dl.state_dict()
        assert got == full, workers
    # A StatefulDataLoader state resumes with its own worker count, else it says so.
    ds = _ds(path)
    dl = sdl.StatefulDataLoader(ds, batch_size=B, num_workers=2, collate_fn=collate)
    _take(dl, 2)
    state = dl.state_dict()
    dl3 = sdl.StatefulDataLoader(_ds(path), batch_size=B, num_workers=3, collate_fn=collate)
    with pytest.raises(Exception, match="num_workers"):
        dl3.load_state_dict(state)
        _take(dl3, 1)


def test_persistent_workers_follow_set_epoch(path):
    ds = _ds(path)
    loader = FleetLoader(ds, num_workers=2, persistent_workers=True)
    shards = fleetprep.open(path).shard_sizes
    orders = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        idx, pad, _ = _take(loader, None)
        assert (idx, pad) == oracle_rank(oracle_stream(shards, 3, epoch, 16), 0, 0, 1, B), epoch
        orders.append(idx)
    assert orders[0] != orders[1] != orders[2]
    # ... and a resume point set between epochs.
    ds.set_epoch(3)
    head = _take(loader, 2)[0]
    state = loader.state_dict()
    ds.load_state_dict(state)
    assert head + _take(loader, None)[0] == oracle_rank(oracle_stream(shards, 3, 3, 16), 0, 0, 1, B)[0]


def test_mismatched_state_names_the_field(path, datasets):
    ds = _ds(path)
    ds.set_epoch(1)
    loader = FleetLoader(ds)
    _take(loader, 2)
    state = loader.state_dict()
    for field, kw in (("buffer_size", dict(buffer_size=8)), ("shuffle", dict(shuffle=False)),
                      ("seed", dict(seed=4)), ("batch_size", dict(batch_size=2))):
        with pytest.raises(StateMismatchError, match=field) as e:
            _ds(path, **kw).load_state_dict(state)
        assert e.value.field == field
    with pytest.raises(StateMismatchError) as e:
        FleetIterableDataset(datasets("native-f16-chw-3cam"), seed=3, buffer_size=16, batch_size=B).load_state_dict(state)
    assert e.value.field in ("index", "dataset_samples")
    with pytest.raises(StateMismatchError, match="world_size"):
        _ds(path, world_size=2).load_state_dict(state, elastic=False)
    bad = dict(state, samples=10 ** 9)
    with pytest.raises(StateMismatchError, match="samples"):
        _ds(path).load_state_dict(bad)
    with pytest.raises(ValueError, match="batch_size"):
        FleetLoader(_ds(path), batch_size=B * 2)
    with pytest.raises(ValueError, match="whole number of batches"):
        ds.state_dict(num_samples=B + 1)
