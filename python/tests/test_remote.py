"""Remote datasets over real servers on loopback: Python's http.server (HTTP) and moto's
standalone S3 server (`moto_server`, the S3 API). The oracle is the local dataset as the Swift
reader dumps it (`fleetprep dump`) and the cache directory's size on disk."""
import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fleetprep
from conftest import dump, require_module

require_module("fsspec")
require_module("aiohttp")
torch = require_module("torch")
from fleetprep.torch import FleetIterableDataset, FleetLoader  # noqa: E402

NAME = "native-f16-chw-3cam"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    damage: dict = {}

    def log_message(self, *a):
        pass

    def copyfile(self, source, outputfile):
        name = os.path.basename(self.path)
        left = self.damage.get(name)
        if left:  # flip one byte of this shard's body, `left` more times
            data = bytearray(source.read())
            data[len(data) // 2] ^= 0x10
            self.damage[name] = left - 1
            outputfile.write(bytes(data))
        else:
            shutil.copyfileobj(source, outputfile)


class Server:
    def __init__(self, root, damage=None):
        handler = type("H", (_Quiet,), {"damage": dict(damage or {})})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=root))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ds"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def local(datasets, fleetprep_bin):
    path = datasets(NAME)
    return path, dump(fleetprep_bin, path)


@pytest.fixture
def served(local, tmp_path):
    root = tmp_path / "www"
    shutil.copytree(local[0], root / "ds")
    servers = []

    def start(damage=None):
        s = Server(str(root), damage)
        servers.append(s)
        return s
    yield start
    for s in servers:
        try:
            s.stop()
        except Exception:
            pass


def _same_as_dump(ds, want):
    assert len(ds) == len(want)
    for s, w in zip(ds, want):
        assert s.key == w["key"] and s.tensor.tobytes().hex() == w["tensorHex"]
        assert s.metadata == w["metadata"] and s.annotations == w["annotations"]


def test_http_reads_the_same_samples_with_a_bounded_cache(local, served, tmp_path):
    path, want = local
    srv = served()
    sizes = sorted(os.path.getsize(f) for f in fleetprep.open(path).files)
    limit = sizes[-1] + sizes[-2] + sizes[-3]  # three shards
    cache = str(tmp_path / "cache")
    ds = fleetprep.open(srv.url, cache_dir=cache, cache_limit=limit)
    assert ds.remote is not None and len(ds) == len(want) and ds.shapes() == fleetprep.open(path).shapes()
    peak = 0
    for s, w in zip(ds, want):
        assert s.key == w["key"] and s.tensor.tobytes().hex() == w["tensorHex"]
        used = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(cache) for f in fs if f != ".lock")
        peak = max(peak, used)
        assert used <= limit
    assert peak > 0 and len(ds.remote.cached()) <= 3
    _same_as_dump(fleetprep.open(srv.url + "/index.json", cache_dir=cache), want)  # the index.json URL works too
    assert fleetprep.open(srv.url, cache_dir=cache).verify() == []


def test_http_loader_with_workers_matches_local_order(local, served, tmp_path):
    path, want = local
    srv = served()
    kw = dict(seed=2, buffer_size=8, batch_size=2)
    local_idx = [i for b in FleetLoader(FleetIterableDataset(path, **kw)) for i in b["index"].tolist()]
    ds = FleetIterableDataset(remote=srv.url, cache_dir=str(tmp_path / "c"), **kw)
    got, keys = [], []
    for b in FleetLoader(ds, num_workers=2):
        got += b["index"].tolist()
        keys += b["key"]
        assert b["tensor"].dtype == torch.float16
    assert got == local_idx and keys == [want[i]["key"] for i in got]


def test_a_shard_damaged_in_transit_is_caught_by_its_digest(local, served, tmp_path):
    path, want = local
    ds_local = fleetprep.open(path)
    name = os.path.basename(ds_local.files[1])
    srv = served(damage={name: 1})  # the first response is damaged, the retry is not
    ds = fleetprep.open(srv.url, cache_dir=str(tmp_path / "a"))
    s = ds[ds_local.shard_sizes[0]]
    assert s.tensor.tobytes().hex() == want[ds_local.shard_sizes[0]]["tensorHex"]
    srv2 = served(damage={name: 5})  # every response damaged
    ds2 = fleetprep.open(srv2.url, cache_dir=str(tmp_path / "b"))
    with pytest.raises(fleetprep.RemoteError, match=f"{name}: damaged in transit.*digest"):
        ds2[ds_local.shard_sizes[0]]
    assert name not in ds2.remote.cached()  # nothing damaged is kept


def test_server_dies_mid_epoch_clear_error_then_exact_resume(local, served, tmp_path):
    path, want = local
    kw = dict(seed=5, buffer_size=4, batch_size=2)
    full = [i for b in FleetLoader(FleetIterableDataset(path, **kw)) for i in b["index"].tolist()]
    sizes = sorted(os.path.getsize(f) for f in fleetprep.open(path).files)
    cache = str(tmp_path / "cache")
    srv = served()
    loader = FleetLoader(FleetIterableDataset(remote=srv.url, cache_dir=cache, cache_limit=2 * sizes[-1], **kw))
    got = []
    with pytest.raises(fleetprep.RemoteError, match="127.0.0.1.*could not be fetched"):
        for k, b in enumerate(loader):
            got += b["index"].tolist()
            if k == 2:
                srv.stop()
    state = loader.state_dict()
    assert state["samples"] == len(got) and 0 < len(got) < len(full)
    srv2 = served()  # back, at another address: the state does not depend on the URL
    loader2 = FleetLoader(FleetIterableDataset(remote=srv2.url, cache_dir=cache, **kw))
    loader2.load_state_dict(state)
    rest = [i for b in loader2 for i in b["index"].tolist()]
    assert got + rest == full


def _moto(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"moto_server is not installed ({exe}; pip install 'moto[server]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, url
        except OSError:
            time.sleep(0.1)
    p.kill()
    pytest.fail("moto_server did not start")


def test_s3_through_moto_server(local, tmp_path, monkeypatch):
    require_module("s3fs")
    boto3 = require_module("boto3")
    path, want = local
    for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(k, v)
    proc, endpoint = _moto(tmp_path)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="fleet")
        for f in os.listdir(path):
            if os.path.isfile(os.path.join(path, f)):
                s3.upload_file(os.path.join(path, f), "fleet", f"runs/ds/{f}")
        opts = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
        ds = fleetprep.open("s3://fleet/runs/ds", cache_dir=str(tmp_path / "c"), storage_options=opts)
        _same_as_dump(ds, want)
        kw = dict(seed=1, buffer_size=8, batch_size=3)
        local_idx = [i for b in FleetLoader(FleetIterableDataset(path, **kw)) for i in b["index"].tolist()]
        rds = FleetIterableDataset(remote="s3://fleet/runs/ds", cache_dir=str(tmp_path / "d"), storage_options=opts, **kw)
        got = [i for b in FleetLoader(rds, num_workers=2) for i in b["index"].tolist()]
        assert got == local_idx
        with pytest.raises(fleetprep.RemoteError, match="s3://fleet/nothing"):
            fleetprep.open("s3://fleet/nothing", cache_dir=str(tmp_path / "e"), storage_options=opts)
    finally:
        proc.kill()
        proc.wait()
