import Foundation

/// Peak resident memory of this process (Linux `VmHWM`), bytes; nil where /proc is absent.
public func testPeakResidentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
    return kb * 1024
}

/// Runs one test alone in a child copy of this test binary. Peak RSS is a measure of the whole
/// process, and swift-testing runs suites side by side in one process: a suite beside a fuzz
/// test moved its peak by 60–200 MB, enough to fail a 1 GiB bound that the fuzz alone keeps by
/// far. A test that checks its own peak runs its body where `inChild` is true; elsewhere it
/// calls `runAlone` with its own name and checks that the child passed.
public enum IsolatedTest {
    static let marker = "FLEETPREP_ISOLATED_TEST"

    /// True in the child that `runAlone` started.
    public static var inChild: Bool { ProcessInfo.processInfo.environment[marker] != nil }

    public struct Outcome: Sendable {
        public let status: Int32
        public let log: String
        /// The child ran exactly one test and it passed.
        public var passed: Bool { status == 0 && log.contains("Test run with 1 test") && log.contains(" passed after ") }
    }

    /// `filter`: "Suite/testFunction", as `swift test --filter` takes it.
    public static func runAlone(_ filter: String) throws -> Outcome {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", filter]
        var env = ProcessInfo.processInfo.environment
        env[marker] = filter
        child.environment = env
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardError = pipe
        try child.run()
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        return Outcome(status: child.terminationStatus, log: log)
    }
}
