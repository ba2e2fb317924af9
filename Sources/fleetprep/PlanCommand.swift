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
    @Option(help: "Budget in US dollars.") var budget: Double?
    @Option(help: "Model preset: resnet50 or bev.") var model: String = "resnet50"
    @Option(help: "Training FLOPs per sample (overrides the preset).") var flopsPerSample: Double?
    @Option(help: "Frames per sample (overrides the preset).") var framesPerSample: Double?
    @Option(help: "Model FLOPs utilization, 0–1.") var mfu: Double?
    @Option(help: "Preprocessing source: cpu, nvdec or both.") var preprocess: String = "cpu"
    @Option(help: "Dojo cost per training tile in USD (no official price exists).") var dojoTileCost: Double?
    @Option(help: "Cameras per car.") var cameras: Double?
    @Option(help: "Camera frame rate.") var fps: Double?
    @Option(help: "Camera resolution WxH.") var resolution: String?
    @Option(help: "Codec: h264 or hevc.") var codec: String?
    @Option(help: "Clip length in seconds.") var clipSeconds: Double?
    @Option(help: "Output tensor size WxH.") var outputSize: String?
    @Option(help: "Bytes per output element (2 for f16/bf16).") var outputBytes: Double?
    @Option(help: "Share of frames kept (1/stride).") var sampled: Double?
    @Option(help: "Storage read bandwidth, GB/s.") var storageGbps: Double?
    @Option(help: "Shard size in bytes (memory target × fill).") var shardBytes: Double?
    @Option(help: "Engine speed: a `fleetprep bench --json` result.") var bench: String?
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
                do { try inp.useEngineSpeed(from: JSONDecoder().decode(EngineSpeedReport.self, from: data)) } catch let e as PlannerError { throw e } catch {
                    throw PlannerError("\(bench) is not a `fleetprep bench --json` report: \(error)")
                }
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
                guard p.count == 2, p[0] > 0, p[1] > 0 else { throw PlannerError("\(opt): expected WxH") }
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
