import Foundation
import Synchronization

/// Counters of an ingest run, shared by its workers.
public struct IngestCounters: Sendable, Codable, Equatable {
    public var clipsTotal = 0
    public var clipsDone = 0
    public var clipsFailed = 0
    /// Clip groups scanned so far, and the samples they will give (the ETA's measure of work).
    public var groupsScanned = 0
    public var samplesPlanned = 0
    public var framesDecoded = 0
    public var samplesWritten = 0
    public var shardsWritten = 0
    public var bytesWritten: Int64 = 0
    public init() {}
}

/// How progress is shown.
public enum ProgressStyle: Sendable {
    /// A live one-line bar redrawn in place (a terminal), as wide as the terminal.
    case bar
    /// A plain line every `interval` seconds (a pipe, a CI log), when there is progress to report.
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
///
/// The live bar never wraps: it is cut to the terminal's width (`TIOCGWINSZ` on stderr, read
/// again at each redraw, so a resize — `SIGWINCH` — shows at the next one; the reporter installs
/// no signal handler), dropping the least useful fields first. The ETA is based on samples (the
/// frames still to decode), not on clips.
public final class ProgressReporter: Sendable {
    /// The counters and when (and what) was last drawn, under one lock.
    private struct State {
        var counters = IngestCounters()
        var lastDraw: UInt64 = 0
        var lastLine: IngestCounters?
    }
    private let state = Mutex(State())
    private let style: ProgressStyle
    private let start = DispatchTime.now().uptimeNanoseconds
    private let output: FileHandle
    private let fixedWidth: Int?

    /// `width`: the bar's width in columns; nil reads the terminal's (80 when it cannot be read).
    public init(style: ProgressStyle, output: FileHandle = .standardError, width: Int? = nil) {
        self.style = style
        self.output = output
        fixedWidth = width
    }

    /// Applies `change` to the counters and redraws if it is time to.
    public func update(_ change: (inout IngestCounters) -> Void) {
        let now = DispatchTime.now().uptimeNanoseconds
        let line = state.withLock { s -> String? in
            change(&s.counters)
            switch style {
            case .quiet: return nil
            case .bar:
                guard now - s.lastDraw > 100_000_000 else { return nil }
                s.lastDraw = now
                return "\r" + render(s.counters, now, width: columns()) + "\u{1B}[K"
            case .lines(let interval):
                guard Double(now - s.lastDraw) / 1e9 >= interval, Self.hasNews(s) else { return nil }
                s.lastDraw = now
                s.lastLine = s.counters
                return render(s.counters, now, width: nil) + "\n"
            }
        }
        if let line { output.write(Data(line.utf8)) }
    }

    /// Something happened since the last plain line (and anything at all: no line of zeros).
    private static func hasNews(_ s: State) -> Bool {
        let c = s.counters
        guard c.framesDecoded > 0 || c.clipsDone + c.clipsFailed > 0 || c.samplesWritten > 0 else { return false }
        return s.lastLine.map { $0.framesDecoded != c.framesDecoded || $0.clipsDone != c.clipsDone
            || $0.clipsFailed != c.clipsFailed || $0.samplesWritten != c.samplesWritten } ?? true
    }

    /// The counters so far.
    public var snapshot: IngestCounters { state.withLock { $0.counters } }

    /// Seconds since the reporter was made.
    public var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// Ends the live bar (a final newline) so that later output starts on a fresh line.
    public func finish() {
        if case .bar = style {
            let line = "\r" + render(snapshot, DispatchTime.now().uptimeNanoseconds, width: columns()) + "\u{1B}[K\n"
            output.write(Data(line.utf8))
        }
    }

    /// The terminal's width in columns.
    private func columns() -> Int {
        if let fixedWidth { return fixedWidth }
        var ws = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    /// Seconds left, from the samples still to write at the rate so far; groups not yet scanned
    /// are assumed to give as many samples as the scanned ones did on average. Nil: no estimate yet.
    func eta(_ c: IngestCounters, seconds: Double) -> Double? {
        guard c.groupsScanned > 0, c.samplesWritten > 0 else { return nil }
        let perGroup = Double(c.samplesPlanned) / Double(c.groupsScanned)
        let total = Double(c.samplesPlanned) + perGroup * Double(max(0, c.clipsTotal - c.groupsScanned))
        return max(0, total - Double(c.samplesWritten)) / (Double(c.samplesWritten) / seconds)
    }

    /// The progress line of the counters so far (see `render(_:_:width:)`).
    func render(_ now: UInt64, width: Int?) -> String { render(snapshot, now, width: width) }

    /// The progress line of `c`; with `width`, the bar and the fields that fit in `width - 1` columns.
    func render(_ c: IngestCounters, _ now: UInt64, width: Int?) -> String {
        let secs = max(Double(now - start) / 1e9, 1e-9)
        let fps = Double(c.framesDecoded) / secs
        let done = c.clipsDone + c.clipsFailed
        let finished = c.clipsTotal > 0 && done >= c.clipsTotal
        // In order of display, with a priority (lower is dropped first).
        var fields: [(text: String, keep: Int)] = [
            ("clips \(done)/\(c.clipsTotal)" + (c.clipsFailed > 0 ? " (\(c.clipsFailed) failed)" : ""), 9),
            ("frames \(c.framesDecoded)", 3),
            (String(format: "%.0f fps", fps), 7),
            ("samples \(c.samplesWritten)", 5),
            ("shards \(c.shardsWritten)", 2),
            (String(format: "%.1f MB", Double(c.bytesWritten) / 1e6), 4),
            ("elapsed " + formatDuration(secs), 1),
        ]
        if !finished { fields.append(("ETA " + (eta(c, seconds: secs).map(formatDuration) ?? "?"), 8)) }
        var bar = ""
        if case .bar = style {
            let pct = c.clipsTotal > 0 ? Double(done) / Double(c.clipsTotal) : 0
            let barWidth = 20, filled = min(barWidth, Int(pct * Double(barWidth)))
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "] "
        }
        func line() -> String { bar + fields.map(\.text).joined(separator: "  ") }
        guard let width else { return line() }
        let limit = max(1, width - 1)  // the last column would wrap on some terminals
        if line().count > limit { bar = "" }
        while line().count > limit, fields.count > 1, let drop = fields.indices.min(by: { fields[$0].keep < fields[$1].keep }) {
            fields.remove(at: drop)
        }
        let text = line()
        return text.count > limit ? String(text.prefix(limit)) : text
    }
}

func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
}
