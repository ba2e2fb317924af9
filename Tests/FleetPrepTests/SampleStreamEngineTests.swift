import FleetPrep
import FleetShards
import FleetTestSupport
import Foundation
import Testing

/// `SampleStream` runs the ingest engine: for the same inputs and options it gives exactly the
/// samples `ingest` writes (keys, tensor bytes, labels, masks, metadata, order), and a clip that
/// fails part-way delivers no sample at all, as in shards (issue 26: one pipeline).
@Suite struct SampleStreamEngineTests {
    static let ffmpeg = TestPaths.which("ffmpeg")

    /// A 90-frame H.264 clip whose packets are overwritten with garbage from 60% of the file on:
    /// the container reads, the decoder fails part-way (strict mode fails the clip at the damage).
    static func damagedClip(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("damaged.mp4").path
        let (s, _, e) = try TestPaths.run(ffmpeg!, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-frames:v", "90",
                                                    "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path])
        #expect(s == 0, "\(e)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let at = bytes.count * 6 / 10
        for i in at..<min(bytes.count, at + 3000) { bytes[i] = 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(.enabled(if: ffmpeg != nil, "needs the ffmpeg CLI"))
    func streamGivesTheSamplesIngestWrites() async throws {
        let dir = IngestCLITests.tempDir("stream-vs-ingest")
        defer { try? FileManager.default.removeItem(at: dir) }
        let damaged = try Self.damagedClip(in: dir)
        let inputs = [TestPaths.sample("event_0001"), TestPaths.sample("mjpeg_176x144.avi"), damaged, TestPaths.sample("vfr_160x120.mkv")]
        let out = dir.appendingPathComponent("out")
        let flags = ["--size", "64x48", "--dtype", "u8", "--jobs", "2", "--stride", "2", "--cameras", "main"]
        let r = try TestPaths.fleetprep(["ingest"] + inputs + ["--out", out.path, "--quiet"] + flags)
        #expect(r.status == 1, "the damaged clip fails, the rest ingest: \(r.stderr)")
        let ds = try ShardDataset(directory: out)
        let written = try (0..<ds.count).map { try ds.record(at: $0) }
        #expect(!written.contains { $0.key.hasPrefix("damaged") })

        var options = IngestOptions()
        options.inputs = inputs
        options.size = "64x48"; options.dtype = "u8"; options.jobs = 2; options.stride = 2; options.cameras = ["main"]
        options.out = dir.appendingPathComponent("unused").path
        let stream = SampleStream(configuration: try IngestConfiguration(options: options))
        var streamed: [(key: String, bytes: [UInt8], labels: [Float], mask: [UInt8], metadata: JSONValue)] = []
        for try await s in stream { streamed.append((s.key, s.tensorBytes, s.labels, s.mask, s.metadata)) }
        #expect(streamed.map(\.key) == written.map(\.key), "same samples, same order")
        for (a, b) in zip(streamed, written) {
            #expect(a.bytes == b.tensorData, "\(a.key): tensor bytes")
            #expect(a.labels == b.labels && a.mask == b.mask, "\(a.key): labels")
            #expect(a.metadata == b.metadata, "\(a.key): metadata")
        }
        // The damaged clip delivered nothing, though its first frames decode; it is listed.
        #expect(!streamed.contains { $0.key.hasPrefix("damaged") })
        #expect(stream.failures.map(\.clip) == ["damaged"])
    }
}
