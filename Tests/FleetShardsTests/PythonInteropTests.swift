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

    static func expected(_ samples: [Sample]) -> String {
        samples.map { s in
            let labels = s.labels.map { String(Double($0)) }.joined(separator: ",")
            return "{\"key\":\"\(s.key)\",\"dtype\":\"\(s.tensor.dtype.rawValue)\",\"shape\":[\(s.tensor.shape.map(String.init).joined(separator: ","))],\"hex\":\"\(s.bytes.map { String(format: "%02x", $0) }.joined())\",\"labels\":[\(labels)],\"mask\":[\(s.mask.map(String.init).joined(separator: ","))],\"annotations\":\(s.annotations)}"
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

    @Test(arguments: [ShardFormat.wds, .native])
    func pythonReadsEverySampleExactly(format: ShardFormat) throws {
        guard let python = Self.python() else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("FLEETPREP_PYTHON with numpy+webdataset is required in CI") }
            print("skipped: no python with numpy and webdataset (run `make venv`)")
            return
        }
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
}
