import ArgumentParser
import FleetPlanner
import Foundation

/// `fleetprep plan`: what a training budget buys and how much fleet video it can ingest.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Project ingest capacity of a training system from this engine's measured speed.",
        discussion: "Defaults and their sources: `fleetprep plan --print-defaults`. Formulas: docs/planner.md."
    )

    @Option(help: "h100 or dojo.") var system: String = "h100"
    @Option(parsing: .unconditional, help: "Budget in US dollars.") var budget: Double?
    @Option(help: "Model preset: resnet50 or bev.") var model: String = "resnet50"
    @Option(parsing: .unconditional, help: "Training FLOPs per sample (overrides the preset).") var flopsPerSample: Double?
    @Option(parsing: .unconditional, help: "Frames per sample (overrides the preset).") var framesPerSample: Double?
    @Option(parsing: .unconditional, help: "Model FLOPs utilization, 0–1.") var mfu: Double?
    @Option(help: "Preprocessing source: cpu, nvdec or both.") var preprocess: String = "cpu"
    @Option(parsing: .unconditional, help: "Dojo cost per training tile in USD (no official price exists).") var dojoTileCost: Double?
    @Option(parsing: .unconditional, help: "Cameras per car.") var cameras: Double?
    @Option(parsing: .unconditional, help: "Camera frame rate.") var fps: Double?
    @Option(help: "Camera resolution WxH.") var resolution: String?
    @Option(help: "Codec: h264 or hevc.") var codec: String?
    @Option(parsing: .unconditional, help: "Clip length in seconds.") var clipSeconds: Double?
    @Option(help: "Output tensor size WxH.") var outputSize: String?
    @Option(parsing: .unconditional, help: "Bytes per output element (2 for f16/bf16).") var outputBytes: Double?
    @Option(parsing: .unconditional, help: "Share of frames kept (1/stride).") var sampled: Double?
    @Option(parsing: .unconditional, help: "Storage read bandwidth, GB/s.") var storageGbps: Double?
    @Option(parsing: .unconditional, help: "Shard size in bytes (memory target × fill).") var shardBytes: Double?
    @Option(help: "Engine speed: a `fleetprep bench --json` result. Its scaling curve (frames/s at --jobs 1, 2, 4, …) projects a host by a fitted Amdahl model.") var bench: String?
    @Option(help: "Scaling curve to project from: many-clips, long-clip or camera-groups (default: camera-groups).") var curve: String?
    @Option(parsing: .unconditional, help: "Ingest processes per host when projecting from a scaling curve (each with --jobs cores/processes).") var processesPerNode: Int = 1
    @Flag(help: "Run a short ingest here at --jobs 1 and 2 and compare measured with projected frames/s (measures a curve first when --bench is not given).") var validate = false
    @Option(help: "With --validate: scratch directory for the generated clips and output (default /dev/shm).") var scratch: String?
    @Option(help: "Inputs file (an edited copy of --print-defaults).") var inputs: String?
    @Flag(help: "Print the default inputs with their sources and exit.") var printDefaults = false
    @Flag(help: "Print the plan as JSON.") var json = false
    @Option(help: "Write an SVG chart of capacity versus budget.") var chart: String?

    func run() throws {
        if printDefaults { print(PlannerDefaults.json); return }
        var inp = PlannerInputs.defaults()
        do {
            if let inputs {
                guard let data = FileManager.default.contents(atPath: inputs) else { throw PlannerError("cannot read \(inputs)") }
                inp = try PlannerInputs(json: data, over: inp)
            }
            if let bench {
                guard let data = FileManager.default.contents(atPath: bench) else { throw PlannerError("cannot read \(bench)") }
                let report: EngineSpeedReport
                do { report = try JSONDecoder().decode(EngineSpeedReport.self, from: data) } catch {
                    throw PlannerError("\(bench) is not a `fleetprep bench --json` report: \(error)")
                }
                try inp.useEngineSpeed(from: report)
                if report.scaling?.isEmpty == false { inp.scaling = try ScalingModel.from(report: report, workload: curve) }
                else if curve != nil { throw PlannerError("--curve: \(bench) has no scaling curve") }
            }
            try checkRanges()
            inp.processesPerNode = processesPerNode
            if validate {
                try PlanValidation(scratch: scratch, workload: curve ?? inp.scaling?.workload ?? "camera-groups").run(model: inp.scaling)
                return
            }
            guard let sys = PlannerInputs.System(rawValue: system) else { throw PlannerError("--system: expected h100 or dojo") }
            guard let pre = PlannerInputs.Preprocessing(rawValue: preprocess) else { throw PlannerError("--preprocess: expected cpu, nvdec or both") }
            inp.system = sys
            inp.preprocessing = pre
            inp.model = model
            if let flopsPerSample {
                inp.model = "custom"
                inp.set("models.custom.trainingFLOPsPerSample", flopsPerSample)
                inp.set("models.custom.framesPerSample", framesPerSample ?? 1)
            } else if let framesPerSample { inp.set("models.\(model).framesPerSample", framesPerSample) }
            if let budget { inp.set("budgetUSD", budget) }
            if let mfu { inp.set("mfu", mfu) }
            if let dojoTileCost { inp.set("dojo.costPerTileUSD", dojoTileCost) }
            if let cameras { inp.set("workload.camerasPerCar", cameras) }
            if let fps { inp.set("workload.framesPerSecond", fps) }
            if let codec { inp.codec = codec }
            if let clipSeconds { inp.set("workload.clipSeconds", clipSeconds) }
            if let outputBytes { inp.set("workload.outputBytesPerElement", outputBytes) }
            if let sampled { inp.set("workload.sampledFraction", sampled) }
            if let storageGbps { inp.set("storageReadGBps", storageGbps) }
            if let shardBytes { inp.set("shardTargetBytes", shardBytes) }
            for (opt, value, wKey, hKey) in [("--resolution", resolution, "workload.width", "workload.height"),
                                             ("--output-size", outputSize, "workload.outputWidth", "workload.outputHeight")] {
                guard let value else { continue }
                let p = value.lowercased().split(separator: "x").compactMap { Double($0) }
                guard p.count == 2, p.allSatisfy({ $0 >= 1 && $0 <= 16384 && $0 == $0.rounded() }) else {
                    throw PlannerError("\(opt): expected WxH, each side 1 to 16384 pixels, got \"\(value)\"")
                }
                inp.set(wKey, p[0]); inp.set(hKey, p[1])
            }
            let plan = try ThroughputPlan.make(inp)
            if let chart { try CapacityChart.svg(inputs: inp).write(toFile: chart, atomically: true, encoding: .utf8) }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(plan), as: UTF8.self))
            } else {
                print(plan.table)
            }
        } catch let e as PlannerError {
            FileHandle.standardError.write(Data("fleetprep plan: \(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}

extension PlanCommand {
    /// The range of every number option (docs/planner.md), checked before any arithmetic, as
    /// ingest checks its options: a value outside it is exit 2 naming the option, never a trap.
    var ranges: [(String, Double?, ClosedRange<Double>)] {
        [("--budget", budget, 1...1e13),
         ("--flops-per-sample", flopsPerSample, 1...1e21),
         ("--frames-per-sample", framesPerSample, 1...1e4),
         ("--mfu", mfu, 0.001...1),
         ("--dojo-tile-cost", dojoTileCost, 1...1e9),
         ("--cameras", cameras, 1...64),
         ("--fps", fps, 0.1...1000),
         ("--clip-seconds", clipSeconds, 0.1...86_400),
         ("--output-bytes", outputBytes, 1...8),
         ("--sampled", sampled, 1e-6...1),
         ("--storage-gbps", storageGbps, 0.001...1e6),
         ("--shard-bytes", shardBytes, 4096...1e13)]
    }

    func checkRanges() throws {
        for (name, value, range) in ranges {
            guard let v = value else { continue }
            guard v.isFinite, range.contains(v) else {
                throw PlannerError("\(name) must be from \(Self.show(range.lowerBound)) to \(Self.show(range.upperBound)), got \(v)")
            }
        }
        guard (1...1024).contains(processesPerNode) else { throw PlannerError("--processes-per-node must be from 1 to 1024, got \(processesPerNode)") }
    }

    static func show(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : "\(v)" }
}

/// `fleetprep plan --validate`: the scaling model's projection at --jobs 1 and 2 against a
/// fresh, short ingest of the same workload on this machine.
struct PlanValidation {
    var scratch: String?
    var workload: String

    func run(model given: ScalingModel?) throws {
        let root = URL(fileURLWithPath: scratch ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()))
        let settings = ScalingBenchmark.Settings(scratch: root, maxJobs: 2, rounds: 2, clips: 16, clipSeconds: 3, longSeconds: 12,
                                                 groups: 2, only: [workload], keepWorkloads: true)
        guard let bench = ScalingBenchmark(settings: settings, say: { print($0) }) else {
            throw PlannerError("--validate needs the ffmpeg CLI (it generates the workload); bash scripts/bootstrap.sh installs it")
        }
        defer { try? FileManager.default.removeItem(at: bench.workloadDirectory) }
        let model: ScalingModel
        if let given {
            model = given
            print("projection: from the --bench report")
        } else {
            print("no --bench report: measuring the \(workload) curve first (fleetprep bench --scaling-only --workload \(workload) --max-jobs 2)")
            let report = EngineSpeedReport(machine: IngestBenchmark.machine(), measurements: [], scaling: try bench.run())
            model = try ScalingModel.from(report: report, workload: workload)
        }
        print("model: " + model.summary)
        guard let w = try bench.makeWorkloads().first(where: { $0.name == model.workload }) else {
            throw PlannerError("--validate: no workload \(model.workload)")
        }
        if w.ingestArguments != model.ingestArguments {
            print("note: the curve's ingest options \(model.ingestArguments) differ from this workload's \(w.ingestArguments)")
        }
        func load() -> String { ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ") }
        print("validation: a fresh ingest of \(w.description) (\(w.frames) frames) at --jobs 1 and 2, alternating, best of 3; load average before: \(load()) on \(ProcessInfo.processInfo.activeProcessorCount) cores")
        var best: [Int: IngestBenchmark.Run] = [:]
        for _ in 0..<3 {
            for jobs in [1, 2] {
                let r = try IngestBenchmark.ingest(w.inputs, w.ingestArguments + ["--jobs", "\(jobs)"], root: root)
                if best[jobs] == nil || r.fps > best[jobs]!.fps { best[jobs] = r }
            }
        }
        var worst = 0.0
        for jobs in [1, 2] {
            let r = best[jobs]!
            let measured = r.fps, projected = model.framesPerSecond(jobs: jobs)
            let error = projected / measured - 1
            worst = max(worst, abs(error))
            print(String(format: "--jobs %d: projected %.1f frames/s, measured %.1f frames/s, error %+.1f%% (the run used %.2f cores: %.1f CPU-s in %.1f s)",
                         jobs, projected, measured, error * 100, r.cpu / r.wall, r.cpu, r.wall))
        }
        print("load average after: \(load()) (other processes on this machine take cores from the measurement)")
        print(String(format: "largest error %.1f%% (target ±10%%): %@", worst * 100, worst <= 0.10 ? "within target" : "OUTSIDE the target"))
    }
}
