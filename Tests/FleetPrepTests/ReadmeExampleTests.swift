import FleetPrep
import FleetTestSupport
import Foundation
import Testing

/// README's library example, compiled here verbatim (between the markers); a test checks that
/// README still shows exactly this code, and runs it with a small in-flight memory budget (the
/// default 256 MiB would move this test process's peak RSS, which FleetMediaTests' resource test
/// watches while tests run concurrently).
@Suite struct ReadmeExampleTests {
    func readmeExample(inflight: Int) async throws -> Int {
        let cwd = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(TestPaths.repoRoot.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
        var seen = 0
        // README-BEGIN
        let config = try IngestConfiguration(
            inputs: ["SampleClips/event_0001"],
            transform: TransformConfig(size: .init(width: 320, height: 240), dtype: .f16, layout: .chw, normalize: .imagenet),
            inflightBytes: inflight,  // (not in README)
            limits: .init(maxFrames: 100_000))
        for try await sample in SampleStream(configuration: config) {
            // sample.tensor: dtype, shape [camera, 3, 240, 320], layout; bytes are not copied.
            sample.withTensorBytes { bytes in _ = bytes.count }
            _ = (sample.key, sample.labels, sample.mask, sample.time)
            // README-END
            let shape: [Int] = sample.tensor.shape
            #expect(shape == [8, 3, 240, 320])
            let count: Int = sample.withTensorBytes { $0.count }
            #expect(count == 3_686_400)  // 8 × 3 × 240 × 320 float16
            seen += 1
        }
        return seen
    }

    @Test func exampleRunsAndMatchesReadme() async throws {
        // 72 master frames, the rear camera misses one tick → 71 samples (as in shards).
        #expect(try await readmeExample(inflight: 8 << 20) == 71)
        let me = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = me.range(of: "// README-BEGIN\n")!.upperBound
        let end = me.range(of: "            // README-END")!.lowerBound
        let code = me[begin..<end].split(separator: "\n").filter { !$0.contains("(not in README)") }
            .map { $0.dropFirst(8) }.joined(separator: "\n")
        let readme = try String(contentsOf: TestPaths.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(code), "README's library example differs from the compiled one:\n\(code)")
    }
}
