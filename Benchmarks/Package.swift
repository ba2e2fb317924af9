// swift-tools-version:6.1
// FleetPrep's package-benchmark suites, in their own package so that users of the library do not
// inherit the benchmark dependency. Run from the repository root:
//   swift package --package-path Benchmarks benchmark
import PackageDescription

let package = Package(
    name: "FleetPrepBenchmarks",
    dependencies: [
        .package(name: "FleetPrep", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FleetPrepBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FleetPrep", package: "FleetPrep"),
                .product(name: "FleetBench", package: "FleetPrep"),
                .product(name: "FleetKernels", package: "FleetPrep"),
                .product(name: "FleetShards", package: "FleetPrep"),
            ],
            path: "Benchmarks/FleetPrepBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
