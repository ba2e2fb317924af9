import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// Python reads what Swift wrote: WebDataset shards through `webdataset` + numpy, native shards
/// through a numpy memmap reader written from docs/shard-format.md (read_native.py).
@Suite struct PythonInteropTests {
    /// The venv python with numpy + webdataset (`make test` sets FLEETPREP_PYTHON). In CI a
    /// missing interpreter is a failure, locally a skip.
    static func python() -> String? {
        if let p = ProcessInfo.processInfo.environment["FLEETPREP_PYTHON"], FileManager.default.isExecutableFile(atPath: p) { return p }
        let venv = TestPaths.repoRoot.appendingPathComponent(".venv/bin/python").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        return nil
    }

    /// Runs where there is a Python, and in CI, where a missing one fails (`requirePython`).
    static let runs = python() != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// The Python to run; in CI without one, a recorded failure.
    static func requirePython() throws -> String {
        try #require(python(), "FLEETPREP_PYTHON with numpy+webdataset is required in CI")
    }

    static func expected(_ samples: [Sample]) -> String {
        samples.map { s in
            let labels = s.labels.map { String(Double($0)) }.joined(separator: ",")
            return "{\"key\":\"\(s.key)\",\"dtype\":\"\(s.tensor.dtype.rawValue)\",\"shape\":[\(s.tensor.shape.map(String.init).joined(separator: ","))],\"hex\":\"\(s.bytes.map { String(format: "%02x", $0) }.joined())\",\"labels\":[\(labels)],\"mask\":[\(s.mask.map(String.init).joined(separator: ","))],\"annotations\":\(s.annotations?.json ?? "null")}"
        }.joined(separator: "\n")
    }

    static let wdsScript = """
    import glob, json, sys
    import numpy as np
    import webdataset as wds
    expected = {e["key"]: e for e in map(json.loads, open(sys.argv[2]))}
    seen = 0
    for s in wds.WebDataset(sorted(glob.glob(sys.argv[1] + "/*.tar")), shardshuffle=False).decode():
        e = expected[s["__key__"]]
        arr, meta = s["npy"], s["json"]
        assert list(arr.shape) == e["shape"], (s["__key__"], arr.shape)
        assert arr.tobytes().hex() == e["hex"], s["__key__"]
        want = {"u8": "uint8", "f16": "float16", "bf16": "uint16", "f32": "float32"}[e["dtype"]]
        assert arr.dtype == np.dtype(want), (arr.dtype, want)
        assert meta["tensor"]["dtype"] == e["dtype"]
        assert np.array_equal(np.array(meta["labels"], dtype=np.float32), np.array(e["labels"], dtype=np.float32)), s["__key__"]
        assert meta["mask"] == e["mask"]
        assert meta["annotations"] == e["annotations"]
        seen += 1
    assert seen == len(expected), (seen, len(expected))
    print("wds ok", seen)
    """

    static let nativeScript = """
    import glob, json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[3])
    import read_native
    expected = {e["key"]: e for e in map(json.loads, open(sys.argv[2]))}
    seen = 0
    for path in sorted(glob.glob(sys.argv[1] + "/*.fps")):
        for r in read_native.read(path):
            e = expected[r["key"]]
            assert r["crc_ok"], r["key"]
            assert r["shape"] == e["shape"] and r["dtype"] == e["dtype"] and r["hex"] == e["hex"], r["key"]
            assert np.array_equal(np.array(r["labels"], dtype=np.float32), np.array(e["labels"], dtype=np.float32))
            assert r["mask"] == e["mask"] and r["annotations"] == e["annotations"]
            seen += 1
    assert seen == len(expected), (seen, len(expected))
    print("native ok", seen)
    """

    @Test(.enabled(if: PythonInteropTests.runs, "skipped: no python with numpy and webdataset (run `make venv`)"), arguments: [ShardFormat.wds, .native])
    func pythonReadsEverySampleExactly(format: ShardFormat) throws {
        let python = try Self.requirePython()
        let dir = scratch("py")
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = makeSamples(40, seed: 11)
        _ = try write(samples, to: dir, format: format, budget: 32 * 1024)
        let exp = dir.appendingPathComponent("expected.jsonl")
        try Self.expected(samples).write(to: exp, atomically: true, encoding: .utf8)
        let script = dir.appendingPathComponent("check.py")
        try (format == .wds ? Self.wdsScript : Self.nativeScript).write(to: script, atomically: true, encoding: .utf8)
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        let (status, out, err) = try TestPaths.run(python, [script.path, dir.path, exp.path, here])
        #expect(status == 0, "\(String(decoding: out, as: UTF8.self))\(err)")
        #expect(String(decoding: out, as: UTF8.self).contains("ok 40"))
    }

    /// Shard digests recomputed in Python (hashlib, and the CRC-32C of read_native.py) from
    /// docs/shard-format.md: segments of each format, zero bytes between them, per-segment
    /// entries, SHA-256 over the entries.
    static let digestScript = """
    import hashlib, json, struct, sys
    sys.path.insert(0, sys.argv[2])
    import read_native
    idx = json.load(open(sys.argv[1] + "/index.json"))
    for s in idx["shards"]:
        scheme, want = s["digest"].split(":")
        f = open(sys.argv[1] + "/" + s["file"], "rb").read()
        if s["file"].endswith(".fps"):
            count, align, ioff, ilen = struct.unpack_from("<QQQQ", f, 16)
            index = json.loads(f[ioff:ioff + ilen])
            segs = [(0, 64)] + [(r["offset"], r["offset"] + r["length"]) for r in index["records"]] + [(ioff, ioff + ilen)]
        else:
            segs, pos, start = [], 0, 0
            while f[pos:pos + 512] != bytes(512):
                h = f[pos:pos + 512]
                size = int(h[124:136].rstrip(b"\\0 ").decode(), 8)
                end = pos + 512 + (size + 511) // 512 * 512
                if h[:100].rstrip(b"\\0").endswith(b".npy"):
                    start = pos
                else:
                    segs.append((start, end))
                pos = end
            segs.append((pos, len(f)))
        prev = 0
        for a, b in segs:
            assert not any(f[prev:a]), (s["file"], "non-zero gap", prev, a)
            prev = b
        assert prev == len(f), s["file"]
        if scheme == "sha256-segments":
            entries = b"".join(hashlib.sha256(f[a:b]).digest() for a, b in segs)
        else:
            assert scheme == "crc32c-segments", scheme
            entries = b"".join(struct.pack("<QI", b - a, read_native.crc32c(f[a:b])) for a, b in segs)
        assert hashlib.sha256(entries).hexdigest() == want, (s["file"], scheme)
    print("digests ok", len(idx["shards"]))
    """

    @Test(.enabled(if: PythonInteropTests.runs, "skipped: no python with numpy and webdataset (run `make venv`)"),
          arguments: [ShardFormat.native, .wds], [SegmentDigestKind.crc32c, .sha256])
    func pythonRecomputesEveryShardDigest(format: ShardFormat, digest: SegmentDigestKind) throws {
        let python = try Self.requirePython()
        let dir = scratch("pydigest")
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = makeSamples(30, seed: 21)
        let shards = try PlacedShardTests.writePlaced(samples, to: dir, format: format, budget: 24 * 1024,
                                                      drop: [samples[3].key, samples[17].key], digest: digest)
        #expect(shards.count > 2)
        let script = dir.appendingPathComponent("digest.py")
        try Self.digestScript.write(to: script, atomically: true, encoding: .utf8)
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        let (status, out, err) = try TestPaths.run(python, [script.path, dir.path, here])
        #expect(status == 0, "\(String(decoding: out, as: UTF8.self))\(err)")
        #expect(String(decoding: out, as: UTF8.self).contains("digests ok \(shards.count)"))
    }
}
