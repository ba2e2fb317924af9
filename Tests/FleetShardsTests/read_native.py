"""A reader for FleetPrep native shards (.fps), written from docs/shard-format.md only.

Usage: read_native.py SHARD  ->  prints one JSON line per record:
  {"key", "dtype", "shape", "layout", "hex", "labels", "mask", "annotations", "crc_ok"}
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"u8": np.uint8, "f16": np.float16, "bf16": np.uint16, "f32": np.float32}

_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def read(path):
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    magic, version, header_size, count, alignment, index_offset, index_length, index_crc, flags = struct.unpack_from(
        "<8sIIQQQQII", mm, 0)
    assert magic == b"FLEETSHD", magic
    assert version == 1 and header_size == 64
    index_bytes = bytes(mm[index_offset:index_offset + index_length])
    assert crc32c(index_bytes) == index_crc, "index checksum"
    index = json.loads(index_bytes)
    assert len(index["records"]) == count
    for e in index["records"]:
        off = e["offset"]
        assert off % alignment == 0, "records are aligned"
        t = e["tensor"]
        n = int(np.prod(t["shape"]))
        arr = np.frombuffer(mm, dtype=np.dtype(DTYPES[t["dtype"]]).newbyteorder("<"), count=n, offset=off).reshape(t["shape"])
        p = off + e["tensor_bytes"]
        L = e["labels"]
        labels = np.frombuffer(mm, dtype="<f4", count=L, offset=p)
        mask = np.frombuffer(mm, dtype=np.uint8, count=L, offset=p + 4 * L)
        q = p + 5 * L
        ann = bytes(mm[q:q + e["annotations_bytes"]]).decode()
        crc_ok = crc32c(bytes(mm[off:off + e["length"]])) == e["crc32c"]
        yield {"key": e["key"], "dtype": t["dtype"], "shape": list(arr.shape), "layout": t["layout"],
               "hex": arr.tobytes().hex(), "labels": [float(x) for x in labels], "mask": [int(m) for m in mask],
               "annotations": json.loads(ann), "crc_ok": crc_ok}


if __name__ == "__main__":
    for rec in read(sys.argv[1]):
        print(json.dumps(rec))
