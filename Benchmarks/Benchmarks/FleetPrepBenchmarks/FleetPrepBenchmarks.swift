import Benchmark
import FleetBench
import FleetKernels
import FleetPrep
import FleetShards
import Foundation

/// The bundled 1280x960 clips, found from this file.
let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("SampleClips")

let benchmarks: @Sendable () -> Void = {
    let config = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
                                         maxDuration: .seconds(5), maxIterations: 20)

    for name in ["h264_1280x960.mp4", "hevc_1280x960.mp4"] {
        let clip = samples.appendingPathComponent(name).path
        Benchmark("decode \(name) (144 frames, 1 thread)", configuration: config) { benchmark in
            for _ in benchmark.scaledIterations {
                let d = try VideoDecoder(path: clip, options: DecoderOptions(threads: 1))
                FleetBench.blackHole(try d.countFrames())
            }
        }
    }

    Benchmark("transform 1280x960 yuv420p → 640x480 imagenet f16 CHW", configuration: config) { benchmark in
        let (w, h) = (1280, 960)
        let y = [UInt8](repeating: 100, count: w * h), c = [UInt8](repeating: 128, count: w * h / 4)
        let t = try FrameTransformer(config: TransformConfig(outputWidth: 640, outputHeight: 480, normalization: .imagenet, dtype: .f16, layout: .chw), sourceWidth: w, sourceHeight: h,
                                     sourceFormat: .yuv420p, streamMatrix: .bt601, streamRange: .limited)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: t.outputByteCount, alignment: 64)
        defer { out.deallocate() }
        try y.withUnsafeBytes { yp in try c.withUnsafeBytes { cp in
            let img = SourceImage(format: .yuv420p, width: w, height: h, plane0: yp.baseAddress!, stride0: w,
                                  plane1: cp.baseAddress!, stride1: w / 2, plane2: cp.baseAddress!, stride2: w / 2)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try t.transform(img, into: out) }
            benchmark.stopMeasurement()
        } }
    }

    // Ingest's writer: the layout plan places every record, then each is written in place.
    Benchmark("shard write: 64 records of 8x3x240x320 f16 (native, placed)", configuration: config) { benchmark in
        let spec = TensorSpec(name: "frames", dtype: .f16, shape: [8, 3, 240, 320], layout: .chw)
        let bytes = [UInt8](repeating: 0x3C, count: spec.byteCount)
        let schema = LabelSchema(names: ["speed"], units: ["m/s"], kinds: [.continuous])
        for _ in benchmark.scaledIterations {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            var packer = try ShardPacker(format: .native, budget: ShardBudget(target: MemoryTarget(parsing: "128MiB"), fill: 1), schema: schema)
            let shard = try PlacedShard(directory: dir, name: "shard-000000.fps", number: 0, format: .native, schema: schema, alignment: 4096)
            for i in 0..<64 {
                try bytes.withUnsafeBytes {
                    let r = SampleRecord(key: "k-\(i)", tensor: spec, labels: [1], mask: [1], annotations: nil, metadata: .null)
                    try shard.write(r, tensorBytes: $0, at: try packer.place(r))
                }
            }
            FleetBench.blackHole(try shard.finish(slots: 64, dropping: []))
        }
    }

    Benchmark("ingest h264_1280x960.mp4 → 640x480 f16 (jobs 1)", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            var o = IngestOptions()
            o.inputs = [samples.appendingPathComponent("h264_1280x960.mp4").path]
            o.out = FileManager.default.temporaryDirectory.appendingPathComponent("fleetprep-bench-\(UUID().uuidString)").path
            o.size = "640x480"
            o.jobs = 1
            o.target = "256MiB"
            defer { try? FileManager.default.removeItem(atPath: o.out!) }
            FleetBench.blackHole(try IngestRun(configuration: IngestConfiguration(options: o)).run())
        }
    }
}
