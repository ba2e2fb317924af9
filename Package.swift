// swift-tools-version:6.0
// FleetPrep: fleet camera video -> training shards.
//
// Data flows one way through the targets below:
//   CFFmpeg -> FleetMedia (decode) -> FleetKernels (transform) -> FleetLabels (align/sync)
//   -> FleetShards (pack/write/read) -> FleetPrep (ingest pipeline) -> fleetprep (CLI)
// Only CFFmpeg/FleetMedia touch FFmpeg: FleetKernels, FleetLabels, FleetShards and
// FleetPlanner build and test without it. FleetVocabulary holds the types those share.
// Linux only (see README): no platforms are claimed.
import PackageDescription

let package = Package(
    name: "FleetPrep",
    products: [
        .library(name: "FleetVocabulary", targets: ["FleetVocabulary"]),
        .library(name: "FleetMedia", targets: ["FleetMedia"]),
        .library(name: "FleetKernels", targets: ["FleetKernels"]),
        .library(name: "FleetLabels", targets: ["FleetLabels"]),
        .library(name: "FleetShards", targets: ["FleetShards"]),
        .library(name: "FleetPlanner", targets: ["FleetPlanner"]),
        .library(name: "FleetPrep", targets: ["FleetPrep"]),
        // For Benchmarks/ (a separate package); not part of the library.
        .library(name: "FleetBench", targets: ["FleetBench"]),
        .executable(name: "fleetprep", targets: ["fleetprep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    ],
    targets: [
        // FFmpeg 5.1 (libavformat, libavcodec, libswscale, libavutil) found with pkg-config.
        .systemLibrary(
            name: "CFFmpeg",
            path: "Sources/CFFmpeg",
            pkgConfig: "libavformat libavcodec libswscale libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev", "pkg-config"])]
        ),
        // FFmpeg's av_log callback and its per-process state, compiled once (a real C file, as
        // swift-nio's CNIOLinux does), rather than static inline functions in the shim header.
        .target(name: "CFFmpegLog", dependencies: ["CFFmpeg"]),
        .target(name: "FleetMedia", dependencies: ["CFFmpeg", "CFFmpegLog", "FleetVocabulary"]),
        // The vocabulary types that cross modules (ElementType, LabelSchema, LabelField,
        // SignalKind, TensorLayout, ContentDigest, CameraName, JSONValue, Annotation,
        // FilePathBytes), defined once; FleetKernels, FleetLabels and FleetShards re-export it
        // (FleetMedia opens files by FilePathBytes).
        .target(name: "FleetVocabulary"),
        // Normalize-and-store rows with AVX2/F16C/FMA, chosen at run time (no build flags needed).
        .target(name: "CTensorStore"),
        .target(name: "FleetKernels", dependencies: ["FleetVocabulary", "CTensorStore"]),
        .target(name: "FleetLabels", dependencies: ["FleetVocabulary"]),
        // Shards need SHA-256 (swift-crypto) and nothing of the decode stack.
        // CRC-32C with the SSE4.2 instruction, chosen at run time (no build flags needed).
        .target(name: "CCRC32C"),
        .target(name: "FleetShards", dependencies: ["FleetVocabulary", "CCRC32C", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "FleetPlanner"),
        .target(
            name: "FleetPrep",
            dependencies: ["FleetMedia", "FleetKernels", "FleetLabels", "FleetShards", "FleetPlanner"]
        ),
        // Benchmark helpers (timing, the ffmpeg CLI next to our decoder): for the CLI's `bench`
        // and Benchmarks/ only, never for the library.
        .target(name: "FleetBench", dependencies: ["FleetMedia", "FleetKernels"]),
        .executableTarget(
            name: "fleetprep",
            dependencies: [
                "FleetPrep", "FleetBench", "FleetMedia", "FleetKernels", "FleetLabels", "FleetShards", "FleetPlanner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test helpers: repository paths, ffprobe/framemd5 oracle readers, MD5.
        .target(name: "FleetTestSupport", path: "Tests/FleetTestSupport"),
        .testTarget(name: "FleetMediaTests", dependencies: ["FleetMedia", "FleetTestSupport"]),
        .testTarget(name: "FleetKernelsTests", dependencies: ["FleetKernels", "FleetTestSupport"]),
        .testTarget(name: "FleetLabelsTests", dependencies: ["FleetLabels", "FleetTestSupport"]),
        .testTarget(name: "FleetShardsTests", dependencies: ["FleetShards", "FleetTestSupport"],
                    exclude: ["read_native.py"]),   // the Python reader oracle the tests run
        .testTarget(name: "FleetPlannerTests", dependencies: ["FleetPlanner"]),
        .testTarget(name: "FleetPrepTests", dependencies: ["FleetPrep", "fleetprep", "FleetTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
