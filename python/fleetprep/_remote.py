"""Remote datasets: index.json read through fsspec, shards fetched whole into a local cache.

``fleetprep.open("s3://bucket/ds")`` (s3fs), ``("https://host/ds")`` (fsspec's HTTP, aiohttp) or
any fsspec URL: index.json is read once; a shard is downloaded whole into
``cache_dir/<index digest>/`` the first time it is read, checked against index.json's digest for
it (a shard damaged in transit is fetched once more, then refused with RemoteError), renamed into
place (so a cached file is always a whole, checked shard) and memory-mapped from there like a
local one. The cache holds at most `cache_limit` bytes (all files under cache_dir, downloads in
progress included): the least recently used shards are deleted to make room. A process that
still has an evicted shard mapped keeps reading it; its disk space is freed when it is unmapped.

The order of an epoch is known in advance, so FleetIterableDataset tells the store which shards
it will read, in order (`plan`), and a background thread fetches the next `prefetch` shards
while the current one is read. Processes (DataLoader workers, ranks on one node) share a cache
directory through a lock file.
"""
import fcntl
import hashlib
import os
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

from ._shards import ShardFormatError, file_digest


def _remote_error() -> type:
    from . import RemoteError as E  # the public name (fleetprep.RemoteError)
    return E


class RemoteStore:
    """The remote side of a Dataset: fetches index.json and shards into the cache."""

    def __init__(self, url: str, cache_dir: Optional[str] = None, cache_limit: Optional[int] = None,
                 storage_options: Optional[Dict[str, Any]] = None, prefetch: int = 2) -> None:
        url = url.rstrip("/")
        if url.endswith("/index.json"):
            url = url[: -len("/index.json")]
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.cache_limit = None if cache_limit is None else int(cache_limit)
        self.prefetch = int(prefetch)
        self._fs: Any = None
        self.index_bytes = self._fetch_bytes("index.json")
        key = hashlib.sha256(self.index_bytes).hexdigest()[:16]
        self.cache_root = cache_dir or os.path.join(tempfile.gettempdir(), "fleetprep-cache")
        self.cache_dir = os.path.join(self.cache_root, key)
        os.makedirs(self.cache_dir, exist_ok=True)
        self._lockfile = os.path.join(self.cache_root, ".lock")
        self._plan: List[int] = []
        self._infos: Dict[int, Dict[str, Any]] = {}
        self._queue: List[int] = []
        self._cv = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self.fetched = 0  # shards this process downloaded

    # -- fsspec ------------------------------------------------------------------------------
    def _filesystem(self) -> Any:
        if self._fs is not None and self._pid != os.getpid():  # a forked worker: fsspec's async clients are not fork-safe
            self._fs = None
            self._thread, self._queue, self._cv = None, [], threading.Condition()
        if self._fs is None:
            self._pid = os.getpid()
            try:
                import fsspec
            except ImportError:
                raise _remote_error()(f"{self.url}: reading a remote dataset needs fsspec (pip install fsspec; "
                                      "s3fs for s3://, aiohttp for http(s)://)") from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.url, **self.storage_options)
            except (ImportError, ValueError) as e:
                raise _remote_error()(f"{self.url}: no fsspec filesystem for this URL ({e})") from None
        return self._fs

    def _path(self, name: str) -> str:
        self._filesystem()
        return self._root.rstrip("/") + "/" + name

    def _fetch_bytes(self, name: str) -> bytes:
        fs = self._filesystem()
        try:
            return fs.cat_file(self._path(name))
        except Exception as e:  # noqa: BLE001 - fsspec backends raise their own types
            raise _remote_error()(f"{self.url}/{name}: could not be fetched ({type(e).__name__}: {e})") from None

    def __getstate__(self) -> Dict[str, Any]:  # workers make their own connections and thread
        d = dict(self.__dict__)
        d["_fs"], d["_thread"], d["_queue"] = None, None, []
        d["_cv"] = None
        return d

    def __setstate__(self, d: Dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._cv = threading.Condition()

    # -- the cache ---------------------------------------------------------------------------
    def cached(self) -> List[str]:
        """Shard files in this dataset's cache directory."""
        return sorted(f for f in os.listdir(self.cache_dir) if not f.startswith("."))

    def cache_bytes(self) -> int:
        """Bytes of every file under cache_dir (all datasets, downloads in progress included)."""
        total = 0
        for root, _, files in os.walk(self.cache_root):
            for f in files:
                if f != ".lock":
                    try:
                        total += os.path.getsize(os.path.join(root, f))
                    except OSError:
                        pass
        return total

    def _make_room(self, need: int, keep: str) -> None:
        if self.cache_limit is None:
            return
        if need > self.cache_limit:
            raise _remote_error()(f"{self.url}: a shard of {need} bytes does not fit cache_limit {self.cache_limit}")
        files = []
        for root, _, names in os.walk(self.cache_root):
            for f in names:
                p = os.path.join(root, f)
                if f == ".lock" or p == keep:
                    continue
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                files.append((st.st_atime if f.startswith(".") else st.st_mtime, st.st_size, p))
        used = sum(s for _, s, _ in files)
        for _, size, p in sorted(files):
            if used + need <= self.cache_limit:
                break
            try:
                os.unlink(p)
                used -= size
            except OSError:
                pass
        if used + need > self.cache_limit:
            raise _remote_error()(f"{self.url}: cache_limit {self.cache_limit} cannot hold a shard of {need} bytes")

    def local(self, s: int, info: Dict[str, Any]) -> str:
        """The cached file of shard `s` (index.json entry `info`), fetched first if it is not there."""
        self._infos[s] = info
        path = os.path.join(self.cache_dir, info["file"])
        if not self._ready(path, info):
            with _Lock(self._lockfile):
                if not self._ready(path, info):
                    self._download(info, path)
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        self._advance(s)
        return path

    @staticmethod
    def _ready(path: str, info: Dict[str, Any]) -> bool:
        try:
            return os.path.getsize(path) == info["bytes"]
        except OSError:
            return False

    def _download(self, info: Dict[str, Any], path: str) -> None:
        name = info["file"]
        want = info.get("digest") or ("sha256:" + info["sha256"] if "sha256" in info else None)
        for attempt in (1, 2):
            part = os.path.join(self.cache_dir, f".part-{os.getpid()}-{threading.get_ident()}-{name}")
            self._make_room(int(info["bytes"]), path)
            try:
                self._filesystem().get_file(self._path(name), part)
            except Exception as e:  # noqa: BLE001
                _unlink(part)
                raise _remote_error()(f"{self.url}/{name}: could not be fetched ({type(e).__name__}: {e})") from None
            problem = None
            size = os.path.getsize(part)
            if size != info["bytes"]:
                problem = f"{size} bytes arrived, index.json says {info['bytes']}"
            elif want is not None:
                try:
                    if file_digest(part, want) != want:
                        problem = "its digest differs from index.json's"
                except ShardFormatError as e:
                    problem = f"it is not a valid shard ({e})"
            if problem is None:
                os.replace(part, path)
                self.fetched += 1
                return
            _unlink(part)
            if attempt == 2:
                raise _remote_error()(f"{self.url}/{name}: damaged in transit, fetched twice: {problem}")

    # -- prefetch in epoch order -------------------------------------------------------------
    def plan(self, shards: List[int], infos: List[Dict[str, Any]]) -> None:
        """The shards the current iteration reads, in order (first use): prefetched ahead of it."""
        self._plan = list(shards)
        for s in shards:
            self._infos[s] = infos[s]
        if self._plan:
            self._schedule(self._plan[: self.prefetch + 1])

    def _advance(self, s: int) -> None:
        if s in self._plan and self.prefetch > 0:
            k = self._plan.index(s)
            self._schedule(self._plan[k + 1:k + 1 + self.prefetch])

    def _schedule(self, shards: List[int]) -> None:
        if self.prefetch <= 0 or not shards:
            return
        with self._cv:
            for s in shards:
                if s not in self._queue:
                    self._queue.append(s)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._prefetcher, name="fleetprep-prefetch", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _prefetcher(self) -> None:
        while True:
            with self._cv:
                if not self._queue:
                    self._cv.wait(timeout=5)
                    if not self._queue:
                        return
                s = self._queue.pop(0)
            info = self._infos.get(s)
            if info is None:
                continue
            path = os.path.join(self.cache_dir, info["file"])
            try:
                if not self._ready(path, info):
                    with _Lock(self._lockfile):
                        if not self._ready(path, info):
                            self._download(info, path)
            except Exception:  # noqa: BLE001 - the read that needs the shard reports the failure
                time.sleep(0.05)


class _Lock:
    """An exclusive lock on a file: one download at a time per cache directory, across processes."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> "_Lock":
        self.f = open(self.path, "a+")
        fcntl.flock(self.f.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: Any) -> None:
        fcntl.flock(self.f.fileno(), fcntl.LOCK_UN)
        self.f.close()


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass
