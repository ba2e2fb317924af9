"""fleetprep.torch: exactly-once partitioning over ranks × DataLoader workers, epochs, resume, views."""
import numpy as np
import pytest

import fleetprep
from conftest import require_module

torch = require_module("torch")
if torch is not None:
    from torch.utils.data import DataLoader

    from fleetprep.torch import FleetDataset, FleetIterableDataset, to_torch

NAME = "native-bf16-hwc-8cam"


def _epoch(path, epoch, rank, world, workers, batch, seed=3, buffer_size=8, state=None, stop_after=None):
    ds = FleetIterableDataset(path, seed=seed, buffer_size=buffer_size, rank=rank, world_size=world, batch_size=batch)
    if state is not None:
        ds.load_state_dict(state)
    ds.set_epoch(epoch)
    out = []
    for k, b in enumerate(DataLoader(ds, batch_size=batch, num_workers=workers)):
        if stop_after is not None and k == stop_after:
            break
        out += b["index"][~b["pad"]].tolist()
    return out, ds


def test_four_ranks_two_workers_see_every_sample_once_per_epoch(datasets):
    path = datasets(NAME)
    n = len(fleetprep.open(path))
    orders = {}
    for epoch in (0, 1):
        allseen = []
        for rank in range(4):
            seen, _ = _epoch(path, epoch, rank, 4, workers=2, batch=2)
            orders[(epoch, rank)] = seen
            allseen += seen
        assert sorted(allseen) == list(range(n)), f"epoch {epoch}"
    assert orders[(0, 0)] != orders[(1, 0)], "the order differs between epochs"
    again, _ = _epoch(path, 0, 0, 4, workers=2, batch=2)
    assert again == orders[(0, 0)], "same seed and epoch: same order"


def test_dataloader_yields_the_ranks_stream_in_order(datasets):
    path = datasets(NAME)
    seen, ds = _epoch(path, 2, 1, 2, workers=2, batch=3)
    assert seen == [i for i in ds.stream().tolist()][:len(seen)]


def test_resume_after_half_an_epoch_in_process(datasets):
    path = datasets(NAME)
    full, _ = _epoch(path, 1, 0, 1, workers=0, batch=1)
    ds = FleetIterableDataset(path, seed=3, buffer_size=8, batch_size=1)
    ds.set_epoch(1)
    it = iter(ds)
    first = [next(it)["index"] for _ in range(len(full) // 2)]
    state = ds.state_dict()
    assert state["samples"] == len(full) // 2 and state["epoch"] == 1
    rest, _ = _epoch(path, 1, 0, 1, workers=0, batch=1, state=state)
    assert first + rest == full


def test_resume_with_dataloader_workers(datasets):
    path = datasets(NAME)
    full, _ = _epoch(path, 0, 1, 2, workers=2, batch=2)
    half = len(full) // 4  # batches
    head, ds = _epoch(path, 0, 1, 2, workers=2, batch=2, stop_after=half)
    state = ds.state_dict(num_samples=half * 2)
    assert state["samples"] == half * 2 * 2  # global: both ranks' batches of those steps
    rest, _ = _epoch(path, 0, 1, 2, workers=2, batch=2, state=state)
    assert head + rest == full and len(head) == half * 2
    # A resumed run's next epoch starts from its beginning.
    _, ds2 = _epoch(path, 0, 1, 2, workers=0, batch=2, state=state)
    ds2.set_epoch(1)
    assert [x["index"] for x in ds2 if not x["pad"]] == _epoch(path, 1, 1, 2, workers=0, batch=2)[0]


def test_torch_tensors_are_views_and_bf16_is_a_view(datasets):
    ds = fleetprep.open(datasets(NAME))
    s = ds[2]
    t = to_torch(s)
    assert t.dtype == torch.bfloat16 and tuple(t.shape) == s.shape
    assert t.data_ptr() == s.tensor.ctypes.data
    assert torch.equal(t.float(), torch.from_numpy(s.to_float32()))
    item = FleetDataset(ds)[2]
    assert item["tensor"].data_ptr() == ds.shard(ds.locate(2)[0]).tensor(ds.shard(ds.locate(2)[0]).records[ds.locate(2)[1]]).ctypes.data
    assert item["labels"].dtype == torch.float32 and item["mask"].dtype == torch.bool
    assert item["key"] == s.key


def test_map_style_with_dataloader(datasets):
    path = datasets("wds-f16-chw-3cam")
    ds = FleetDataset(path)
    keys = []
    for b in DataLoader(ds, batch_size=4, num_workers=2):
        assert b["tensor"].dtype == torch.float16 and b["tensor"].shape[1:] == (3, 3, 30, 40)
        keys += b["key"]
    assert keys == [s.key for s in fleetprep.open(path)]


def test_mixed_shapes_refused_unless_allowed(fleetprep_bin, tmp_path):
    import os
    from conftest import REPO, run
    out = str(tmp_path / "mixed")
    rc, _, e = run(fleetprep_bin, "ingest", os.path.join(REPO, "SampleClips", "mjpeg_176x144.avi"),
                   os.path.join(REPO, "SampleClips", "vfr_160x120.mkv"), "--out", out, "--quiet", "--dtype", "u8",
                   "--normalize", "none", "--stride", "8", "--mixed-shapes")
    assert rc == 0, e
    with pytest.raises(fleetprep.MixedShapesError, match="allow_mixed_shapes=True"):
        FleetIterableDataset(out)
    assert len(list(FleetIterableDataset(out, allow_mixed_shapes=True))) == len(fleetprep.open(out))


def test_bad_rank_is_an_error(datasets):
    with pytest.raises(ValueError):
        list(FleetIterableDataset(datasets(NAME), rank=4, world_size=4))
    np.testing.assert_equal(len(FleetIterableDataset(datasets(NAME), rank=0, world_size=1)), len(fleetprep.open(datasets(NAME))))


def test_readme_python_example_runs(datasets, tmp_path):
    """README's Python section, run as written on a test dataset (in place of /tmp/ds)."""
    import os
    import subprocess
    import sys
    from conftest import REPO
    readme = open(os.path.join(REPO, "README.md")).read()
    section = readme[readme.index("## Python: reading datasets"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "fleetprep.open" in code and "FleetIterableDataset" in code
    script = tmp_path / "readme_example.py"
    script.write_text(code.replace("/tmp/ds", datasets("native-f16-chw-3cam")))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "[]" in p.stdout  # verify() found nothing


@pytest.mark.parametrize("how", ["collate", "default_collate-workers"])
def test_collate_keeps_metadata_and_annotations_per_sample(datasets, fleetprep_bin, how):
    from conftest import dump
    from fleetprep.torch import FleetLoader, collate
    path = datasets("native-f16-chw-3cam")
    want = dump(fleetprep_bin, path)
    ds = FleetIterableDataset(path, shuffle=False, batch_size=4)
    loader = FleetLoader(ds) if how == "collate" else DataLoader(ds, batch_size=4, num_workers=2)
    n_ann = 0
    for b in loader:
        rows = [want[i] for i in b["index"].tolist()]
        assert b["tensor"].shape[0] == 4 and b["labels"].shape == (4, 3) and b["mask"].dtype == torch.bool
        assert b["key"] == [w["key"] for w in rows]
        assert b["metadata"] == [w["metadata"] for w in rows]  # B dicts, not transposed
        assert b["annotations"] == [w["annotations"] for w in rows]  # None where a sample has none
        assert b["metadata"][0]["cameras"] == ["main", "narrow", "rear"]
        if any(w["annotations"] for w in rows):
            n_ann += 1
            boxes = [[bx["xyxy"] for bx in (w["annotations"] or {}).get("boxes", [])] for w in rows]
            m = max(len(x) for x in boxes)
            assert b["boxes"].shape == (4, m, 4) and b["box_counts"].tolist() == [len(x) for x in boxes]
            for k, x in enumerate(boxes):
                assert b["boxes"][k, :len(x)].tolist() == x and not b["boxes"][k, len(x):].any()
            assert b["box_labels"] == [[bx["label"] for bx in (w["annotations"] or {}).get("boxes", [])] for w in rows]
        else:
            assert "boxes" not in b
    assert n_ann > 0, "event_0001 has annotated frames"
    assert collate([]) == {}


def test_shards_are_opened_lazily_and_small_fixes(datasets):
    import os
    path = datasets("native-f16-chw-3cam")
    ds = FleetIterableDataset(path, batch_size=2)
    assert ds.data._shards == {} and len(ds) >= len(ds.data)  # the order and the shape check need index.json only
    next(iter(ds))
    assert len(ds.data._shards) == 1
    plain = fleetprep.open(os.path.join(path, "index.json"))  # the index.json path means its dataset
    assert plain.path == path and len(plain) == len(ds.data)
    with pytest.raises(TypeError, match="one integer index"):
        plain[0:3]
    with pytest.raises(FileNotFoundError, match="no such dataset"):
        fleetprep.open(os.path.join(path, "missing"))
