import Foundation

// FleetBench: measuring helpers for `fleetprep bench` and Benchmarks/, kept out of the library
// (FleetPrep) so that code embedding it does not get benchmark API or spawn the ffmpeg CLI.

/// Wall-clock and CPU time of a piece of work, for the benchmarks (`fleetprep bench`).
public struct RunMeasurement: Sendable, Codable, Equatable {
    /// Seconds of wall-clock time.
    public var wallSeconds: Double
    /// Seconds of CPU time (user + system) of this process, or of child processes for external tools.
    public var cpuSeconds: Double
    /// Units of work done (frames, bytes).
    public var units: Double

    /// Units per wall-clock second.
    public var perSecond: Double { wallSeconds > 0 ? units / wallSeconds : 0 }
    /// Units per CPU second (≈ per core).
    public var perCPUSecond: Double { cpuSeconds > 0 ? units / cpuSeconds : 0 }

    public init(wallSeconds: Double, cpuSeconds: Double, units: Double) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.units = units
    }

    /// Measures `body`, which returns the units of work it did, with this process's CPU time.
    public static func of(_ body: () throws -> Double) rethrows -> RunMeasurement {
        let cpu0 = cpuTime(RUSAGE_SELF)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let units = try body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return RunMeasurement(wallSeconds: wall, cpuSeconds: cpuTime(RUSAGE_SELF) - cpu0, units: units)
    }

    /// Runs an external command to completion and measures it with the children's CPU time.
    /// Returns nil when the command cannot be started or fails.
    public static func ofProcess(_ executable: String, _ arguments: [String], units: Double) -> RunMeasurement? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let cpu0 = cpuTime(RUSAGE_CHILDREN)
        let t0 = DispatchTime.now().uptimeNanoseconds
        do { try p.run() } catch { return nil }
        p.waitUntilExit()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        guard p.terminationStatus == 0 else { return nil }
        return RunMeasurement(wallSeconds: wall, cpuSeconds: cpuTime(RUSAGE_CHILDREN) - cpu0, units: units)
    }

    /// CPU seconds (user + system) of this process, or of its finished children.
    public static func cpuSeconds(children: Bool) -> Double { cpuTime(children ? RUSAGE_CHILDREN : RUSAGE_SELF) }

    #if canImport(Glibc)
    typealias Who = __rusage_who
    static func getUsage(_ who: Who, _ usage: inout rusage) { getrusage(__rusage_who_t(who.rawValue), &usage) }
    #else
    typealias Who = Int32
    static func getUsage(_ who: Who, _ usage: inout rusage) { getrusage(who, &usage) }
    #endif

    static func cpuTime(_ who: Who) -> Double {
        var usage = rusage()
        getUsage(who, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}
