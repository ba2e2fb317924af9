import Foundation

/// Frames/s of one `fleetprep ingest --jobs N` process as a function of N, fitted to a measured
/// scaling curve (`fleetprep bench --json`, section `scaling`) with Amdahl's law:
///
///     fps(N) = fps₁ / (s + (1 − s) / N)
///
/// `s` is the serial fraction (0: linear scaling, 1: no scaling at all) and `fps₁` the speed at
/// one job. Both are fitted by least squares on log(fps), so every point weighs by its relative
/// error. Only points at N ≤ the measuring machine's cores are used: above that the jobs share
/// cores and the curve measures the machine, not the engine. Past the largest measured N the
/// projection is the model's, and says so.
public struct ScalingModel: Sendable, Codable, Equatable {
    public var workload: String
    /// Frames/s at --jobs 1 (fitted).
    public var framesPerSecondAtOneJob: Double
    /// Amdahl serial fraction, 0…1 (fitted).
    public var serialFraction: Double
    /// The points fitted: (jobs, measured frames/s).
    public var points: [Point]
    /// Root-mean-square relative error of the fit over `points`.
    public var rmsRelativeError: Double
    public var maxRelativeError: Double
    /// Cores of the machine the curve was measured on, and its CPU.
    public var measuredCores: Int
    public var machine: String
    /// Source video of the curve.
    public var width: Int
    public var height: Int
    public var codec: String
    /// Ingest options of the curve's workload.
    public var ingestArguments: [String]

    public struct Point: Sendable, Codable, Equatable {
        public var jobs: Int
        public var framesPerSecond: Double
        public init(jobs: Int, framesPerSecond: Double) { self.jobs = jobs; self.framesPerSecond = framesPerSecond }
    }

    /// Amdahl's law at `jobs`.
    public func framesPerSecond(jobs: Int) -> Double {
        Self.amdahl(framesPerSecondAtOneJob, serialFraction, Double(max(1, jobs)))
    }

    /// The most one process reaches however many jobs: fps₁ / s.
    public var ceiling: Double { serialFraction > 0 ? framesPerSecondAtOneJob / serialFraction : .infinity }

    public var largestMeasuredJobs: Int { points.map(\.jobs).max() ?? 1 }

    static func amdahl(_ f1: Double, _ s: Double, _ n: Double) -> Double { f1 / (s + (1 - s) / n) }

    /// Fits `points` (at least one; with one point the serial fraction cannot be fitted and is 0,
    /// linear scaling, and the description says so).
    public static func fit(_ points: [Point], workload: String, measuredCores: Int, machine: String,
                           width: Int, height: Int, codec: String, ingestArguments: [String]) throws -> ScalingModel {
        let pts = points.filter { $0.jobs >= 1 && $0.framesPerSecond > 0 && $0.framesPerSecond.isFinite }
            .sorted { $0.jobs < $1.jobs }
        guard !pts.isEmpty else { throw PlannerError("scaling curve \(workload): no usable points") }
        func logT1(_ s: Double) -> Double {
            pts.reduce(0) { $0 + log($1.framesPerSecond) - log(amdahl(1, s, Double($1.jobs))) } / Double(pts.count)
        }
        func sse(_ s: Double) -> Double {
            let t1 = exp(logT1(s))
            return pts.reduce(0) { let d = log(amdahl(t1, s, Double($1.jobs))) - log($1.framesPerSecond); return $0 + d * d }
        }
        var best = 0.0
        if Set(pts.map(\.jobs)).count > 1 {
            // A grid over s, then a finer one around the best: the problem is one-dimensional.
            var bestErr = Double.infinity
            for i in 0...1000 {
                let s = Double(i) / 1000
                let e = sse(s)
                if e < bestErr { bestErr = e; best = s }
            }
            let lo = max(0, best - 0.001), hi = min(1, best + 0.001)
            for i in 0...200 {
                let s = lo + (hi - lo) * Double(i) / 200
                let e = sse(s)
                if e < bestErr { bestErr = e; best = s }
            }
        }
        let t1 = exp(logT1(best))
        let rel = pts.map { abs(amdahl(t1, best, Double($0.jobs)) / $0.framesPerSecond - 1) }
        return ScalingModel(workload: workload, framesPerSecondAtOneJob: t1, serialFraction: best, points: pts,
                            rmsRelativeError: sqrt(rel.reduce(0) { $0 + $1 * $1 } / Double(rel.count)),
                            maxRelativeError: rel.max() ?? 0, measuredCores: measuredCores, machine: machine,
                            width: width, height: height, codec: codec, ingestArguments: ingestArguments)
    }

    /// The curve of `workload` (default: camera-groups, the fleet's 8-camera shape, else the
    /// first) from a bench report, fitted.
    public static func from(report: EngineSpeedReport, workload: String? = nil) throws -> ScalingModel {
        guard let curves = report.scaling, !curves.isEmpty else {
            throw PlannerError("the bench report has no scaling curve (run `fleetprep bench --json` without --skip-scaling)")
        }
        let curve: EngineSpeedReport.ScalingCurve
        if let workload {
            guard let c = curves.first(where: { $0.workload == workload }) else {
                throw PlannerError("no scaling curve \"\(workload)\" in the report (it has \(curves.map(\.workload).joined(separator: ", ")))")
            }
            curve = c
        } else {
            curve = curves.first { $0.workload == "camera-groups" } ?? curves[0]
        }
        let cores = max(1, report.machine.cores)
        let usable = curve.points.filter { $0.jobs <= cores }
        return try fit(usable.map { Point(jobs: $0.jobs, framesPerSecond: $0.fleetprepFramesPerSecond) }, workload: curve.workload,
                       measuredCores: cores, machine: report.machine.cpuModel, width: curve.width, height: curve.height,
                       codec: curve.codec, ingestArguments: curve.ingestArguments)
    }

    /// One line for people: the model, its parameters and its fit.
    public var summary: String {
        let measured = points.map { String(format: "%d→%.0f", $0.jobs, $0.framesPerSecond) }.joined(separator: ", ")
        var s = String(format: "Amdahl fit to the %@ curve (%@ %dx%d, measured at --jobs %@ frames/s on %d cores of %@): fps(N) = %.1f / (%.3f + %.3f/N); ceiling %@ frames/s per process; fit RMS error %.1f%%, max %.1f%%",
                       workload, codec, width, height, measured, measuredCores, machine, framesPerSecondAtOneJob, serialFraction,
                       1 - serialFraction, ceiling.isFinite ? String(format: "%.0f", ceiling) : "none", rmsRelativeError * 100, maxRelativeError * 100)
        if Set(points.map(\.jobs)).count < 2 { s += "; one point only: the serial fraction is not measured (0 assumed, linear scaling)" }
        return s
    }
}
