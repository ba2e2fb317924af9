import Foundation

/// Counters of an ingest run, shared by its workers.
public struct IngestCounters: Sendable, Codable, Equatable {
    public var clipsTotal = 0
    public var clipsDone = 0
    public var clipsFailed = 0
    public var framesDecoded = 0
    public var samplesWritten = 0
    public var shardsWritten = 0
    public var bytesWritten: Int64 = 0
    public init() {}
}

/// How progress is shown.
public enum ProgressStyle: Sendable {
    /// A live one-line bar redrawn in place (a terminal).
    case bar
    /// A plain line every `interval` seconds (a pipe, a CI log).
    case lines(interval: Double)
    /// Nothing.
    case quiet

    /// `.bar` on a terminal, plain lines every 5 s otherwise (or when `CI` is set).
    public static func automatic(quiet: Bool) -> ProgressStyle {
        if quiet { return .quiet }
        let env = ProcessInfo.processInfo.environment
        if isatty(STDERR_FILENO) == 1 && env["CI"] == nil && env["TERM"] != "dumb" { return .bar }
        return .lines(interval: 5)
    }
}

/// Thread-safe progress reporting to stderr: clips, frames, frames/s, MB written, ETA.
public final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var counters = IngestCounters()
    private let style: ProgressStyle
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private let output: FileHandle

    public init(style: ProgressStyle, output: FileHandle = .standardError) {
        self.style = style
        self.output = output
    }

    /// Applies `change` to the counters and redraws if it is time to.
    public func update(_ change: (inout IngestCounters) -> Void) {
        lock.lock()
        change(&counters)
        let now = DispatchTime.now().uptimeNanoseconds
        var line: String? = nil
        switch style {
        case .quiet: break
        case .bar:
            if now - lastDraw > 100_000_000 { lastDraw = now; line = "\r" + render(now) + "\u{1B}[K" }
        case .lines(let interval):
            if Double(now - lastDraw) / 1e9 >= interval { lastDraw = now; line = render(now) + "\n" }
        }
        lock.unlock()
        if let line { output.write(Data(line.utf8)) }
    }

    /// The counters so far.
    public var snapshot: IngestCounters { lock.lock(); defer { lock.unlock() }; return counters }

    /// Seconds since the reporter was made.
    public var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// Ends the live bar (a final newline) so that later output starts on a fresh line.
    public func finish() {
        if case .bar = style {
            lock.lock()
            let line = "\r" + render(DispatchTime.now().uptimeNanoseconds) + "\u{1B}[K\n"
            lock.unlock()
            output.write(Data(line.utf8))
        }
    }

    private func render(_ now: UInt64) -> String {
        let c = counters
        let secs = max(Double(now - start) / 1e9, 1e-9)
        let fps = Double(c.framesDecoded) / secs
        let done = c.clipsDone + c.clipsFailed
        var eta = "?"
        if done > 0 && c.clipsTotal > done {
            eta = formatDuration(secs / Double(done) * Double(c.clipsTotal - done))
        } else if c.clipsTotal == done {
            eta = "0s"
        }
        let pct = c.clipsTotal > 0 ? Double(done) / Double(c.clipsTotal) : 0
        var bar = ""
        if case .bar = style {
            let width = 20, filled = Int(pct * Double(width))
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        return bar + String(format: "clips %d/%d (%d failed)  frames %d  %.1f frames/s  samples %d  shards %d  %.1f MB  elapsed %@  ETA %@",
                            done, c.clipsTotal, c.clipsFailed, c.framesDecoded, fps, c.samplesWritten, c.shardsWritten,
                            Double(c.bytesWritten) / 1e6, formatDuration(secs), eta)
    }
}

func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
}
