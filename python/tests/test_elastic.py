"""Real torch.distributed (gloo) ranks on loopback: equal steps per rank, and elastic resume — a
state saved at world size W resumes at W' with every remaining sample seen exactly once.

Each rank runs a FleetLoader and an all_reduce per step (a DDP step's collective: it would hang,
here time out, if ranks ran different step counts). The oracle is the dataset's sample count and
the Swift reader's keys (`fleetprep dump`)."""
import json
import os
import socket

import pytest

import fleetprep
from conftest import dump, require_module

torch = require_module("torch")

NAME = "native-u8-chw-long"


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, path, out, batch, steps, state_file, drop_last, workers):
    import datetime

    import torch.distributed as dist

    from fleetprep.torch import FleetIterableDataset, FleetLoader
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    ds = FleetIterableDataset(path, seed=11, buffer_size=32, batch_size=batch, drop_last=drop_last)
    assert (ds.rank, ds.world_size) == (rank, world)  # taken from torch.distributed
    loader = FleetLoader(ds, num_workers=workers)
    if state_file and os.path.exists(state_file):
        with open(state_file) as f:
            loader.load_state_dict(json.load(f))
    ds.set_epoch(5)
    idx, pad, keys, n = [], [], [], 0
    for b in loader:
        t = torch.ones(1)
        dist.all_reduce(t)  # every rank takes part in every step
        assert t.item() == world
        idx += b["index"].tolist()
        pad += b["pad"].tolist()
        keys += b["key"]
        n += 1
        if steps is not None and n == steps:
            break
    state = loader.state_dict()
    states = [None] * world
    dist.all_gather_object(states, state)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"idx": idx, "pad": pad, "keys": keys, "steps": n, "state": state, "same": states == [state] * world}, f)
    dist.barrier()
    dist.destroy_process_group()


def _run(world, path, out, batch, steps=None, state_file=None, drop_last=False, workers=0):
    import torch.multiprocessing as mp
    os.makedirs(out, exist_ok=True)
    mp.start_processes(_rank_main, args=(world, _port(), path, out, batch, steps, state_file, drop_last, workers),
                       nprocs=world, start_method="fork")
    res = []
    for r in range(world):
        with open(os.path.join(out, f"rank{r}.json")) as f:
            res.append(json.load(f))
    return res


@pytest.fixture(scope="module")
def clip(datasets, fleetprep_bin):
    path = datasets(NAME)
    return path, [r["key"] for r in dump(fleetprep_bin, path)]


@pytest.mark.parametrize("drop_last", [False, True])
def test_equal_steps_per_rank_at_batch_10(clip, tmp_path, drop_last):
    path, keys = clip
    n = len(keys)
    res = _run(2, path, str(tmp_path / "run"), batch=10, drop_last=drop_last)
    steps = [r["steps"] for r in res]
    assert steps[0] == steps[1] == (n // 20 if drop_last else -(-n // 20)), (steps, n)
    real = [i for r in res for i, p in zip(r["idx"], r["pad"]) if not p]
    assert len(real) == len(set(real)) and set(real) <= set(range(n))
    assert len(real) == (n // 20 * 20 if drop_last else n)
    for r in res:
        assert r["keys"] == [keys[i] for i in r["idx"]]
        assert len(r["idx"]) == 10 * r["steps"]  # whole batches only
        assert not any(r["pad"][:-10]), "padding only fills the epoch's last step"


@pytest.mark.parametrize("w0,w1,workers", [(2, 1, 0), (2, 4, 1), (4, 3, 0)])
def test_elastic_resume_sees_every_remaining_sample_once(clip, tmp_path, w0, w1, workers):
    path, keys = clip
    n = len(keys)
    batch = 3
    first = _run(w0, path, str(tmp_path / "a"), batch=batch, steps=2, workers=workers)
    state = first[0]["state"]
    assert all(r["same"] for r in first), "every rank saves the same global state"
    assert state["samples"] == 2 * w0 * batch and state["world_size"] == w0  # the in-flight rule: whole steps
    sf = str(tmp_path / "state.json")
    with open(sf, "w") as f:
        json.dump(state, f)
    second = _run(w1, path, str(tmp_path / "b"), batch=batch, state_file=sf, workers=workers)
    seen = [i for r in first + second for i, p in zip(r["idx"], r["pad"]) if not p]
    assert sorted(seen) == list(range(n)), "exactly once across the save at W and the resume at W'"
    assert len({r["steps"] for r in second}) == 1, "equal steps per rank after the resume too"
    assert second[0]["state"]["samples"] == n
    for r in first + second:
        assert r["keys"] == [keys[i] for i in r["idx"]]
