import Foundation

/// One vehicle signal: samples (time on the clip clock in seconds, value), times non-decreasing.
public struct SignalSeries: Sendable, Hashable, Codable {
    public var name: String
    public var times: [Double]
    public var values: [Double]
    /// The file it was read from ("" when built in code).
    public var file: String

    public init(name: String, times: [Double], values: [Double], file: String = "") {
        precondition(times.count == values.count, "times and values differ in length")
        self.name = name
        self.times = times
        self.values = values
        self.file = file
    }
}

/// Parsers for signal CSV files.
///
/// * A table (`signals.csv`): header `t,<signal>,<signal>,...`; one row per time; an empty
///   cell means "no sample of that signal at this time".
/// * One file per signal (`signals/<name>.csv`): header `t,<anything>` (e.g. `t,value`), two
///   columns; the signal is named after the file's stem.
///
/// Rules, for both: the first line is the header and its first column is `t`; names are
/// non-empty and unique; cells are separated by `,` and may be padded with spaces; every row has
/// as many cells as the header; times and values are finite decimal numbers; times never
/// decrease (equal times are allowed, the later row wins at that instant); blank lines are
/// skipped; `\r\n` line ends and a UTF-8 BOM are accepted. Any violation is a `LabelError`
/// naming the file and line.
public enum SignalsCSV {
    public static func loadTable(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes,
                                 maxSignals: Int? = nil, cancellation: CancellationFlag? = nil) throws -> [SignalSeries] {
        try parseTable(SidecarIO.read(path, limit: maxBytes), file: path, expectedColumns: nil, maxSignals: maxSignals,
                       cancellation: cancellation)
    }

    public static func loadSingle(path: String, name: String? = nil,
                                  maxBytes: Int = LabelOptions.defaultMaxSidecarBytes, cancellation: CancellationFlag? = nil) throws -> SignalSeries {
        let stem = name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        var table = try parseTable(SidecarIO.read(path, limit: maxBytes), file: path, expectedColumns: 2, maxSignals: nil,
                                   cancellation: cancellation)
        table[0].name = stem
        return table[0]
    }

    /// The signal names of a table's header (every column after `t`), read without reading the
    /// rest of the file; the header may be as long as `maxBytes`.
    public static func columns(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> [String] {
        let line = try SidecarIO.firstLine(path, limit: maxBytes)
        return line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).dropFirst()
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
    }

    /// The signal names of a table's header, checked as `loadTable` checks them (first column
    /// `t`, names non-empty and unique, at most `maxSignals`), reading only the first line.
    /// `expectedColumns`: 2 for a one-signal file. Linear in the header's length.
    public static func header(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes, expectedColumns: Int? = nil,
                              maxSignals: Int? = nil, cancellation: CancellationFlag? = nil) throws -> [String] {
        let line = try SidecarIO.firstLine(path, limit: maxBytes)
        return try header(line, 0..<line.count, file: path, line: 1, expectedColumns: expectedColumns, maxSignals: maxSignals,
                          cancellation: cancellation)
    }

    public static func parseSingle(_ bytes: [UInt8], name: String, file: String) throws -> SignalSeries {
        var table = try parseTable(bytes, file: file, expectedColumns: 2)
        table[0].name = name
        return table[0]
    }

    public static func parseTable(_ bytes: [UInt8], file: String) throws -> [SignalSeries] {
        try parseTable(bytes, file: file, expectedColumns: nil)
    }

    /// The header line's names after `t`, checked. One pass over the bytes; names are compared
    /// through a hash set, so 100,000 columns take milliseconds.
    static func header(_ bytes: [UInt8], _ range: Range<Int>, file: String, line: Int, expectedColumns: Int?,
                       maxSignals: Int?, cancellation: CancellationFlag?) throws -> [String] {
        var cells: [Range<Int>] = []
        try SidecarIO.splitCells(bytes, range, into: &cells) { if $0 & 0xFFFF == 0 { try cancellation?.check() } }
        let first = cells[0]
        guard bytes[first].elementsEqual([UInt8(ascii: "t")]) else {
            throw LabelError(.badHeader, file: file, line: line,
                             "header must start with \"t\" (time in seconds), found \"\(Terminal.excerpt(bytes[first]))\"")
        }
        guard cells.count >= 2 else {
            throw LabelError(.badHeader, file: file, line: line, "header names no signal column")
        }
        if let expectedColumns, cells.count != expectedColumns {
            throw LabelError(.badHeader, file: file, line: line,
                             "a one-signal file has header \"t,value\": found \(cells.count) columns")
        }
        if let maxSignals, cells.count - 1 > maxSignals {
            throw LabelError(.tooManySignals, file: file, line: line,
                             "the header names \(cells.count - 1) signal columns; the limit is \(maxSignals) (--max-signals, or name the wanted ones with --signals)")
        }
        var names: [String] = []
        names.reserveCapacity(cells.count - 1)
        var seen = Set<String>(minimumCapacity: cells.count)
        for (k, cell) in cells.enumerated().dropFirst() {
            guard !cell.isEmpty else {
                throw LabelError(.badHeader, file: file, line: line, "column \(k + 1) has no name")
            }
            let name = SidecarIO.string(bytes, cell)
            guard seen.insert(name).inserted else {
                throw LabelError(.badHeader, file: file, line: line, "column \"\(Terminal.excerpt(name))\" appears twice")
            }
            names.append(name)
            if k & 0xFFFF == 0 { try cancellation?.check() }
        }
        return names
    }

    static func parseTable(_ bytes: [UInt8], file: String, expectedColumns: Int?, maxSignals: Int? = nil,
                           cancellation: CancellationFlag? = nil) throws -> [SignalSeries] {
        var names: [String] = []
        var times: [[Double]] = []
        var values: [[Double]] = []
        var lastTime = -Double.infinity
        var lastTimeLine = 0
        var cells: [Range<Int>] = []
        cells.reserveCapacity(16)
        var sawHeader = false

        try SidecarIO.forEachLine(bytes) { line, range in
            if !sawHeader {
                sawHeader = true
                names = try header(bytes, range, file: file, line: line, expectedColumns: expectedColumns, maxSignals: maxSignals,
                                   cancellation: cancellation)
                times = Array(repeating: [], count: names.count)
                values = Array(repeating: [], count: names.count)
                return
            }
            if line & 0x3FF == 0 { try cancellation?.check() }
            try SidecarIO.splitCells(bytes, range, into: &cells)

            // Blank line: skip.
            if cells.count == 1, cells[0].isEmpty { return }
            guard cells.count == names.count + 1 else {
                throw LabelError(.badRow, file: file, line: line,
                                 "\(cells.count) cells, the header has \(names.count + 1)")
            }
            guard let t = SidecarIO.double(bytes, cells[0]) else {
                throw LabelError(.nonNumeric, file: file, line: line,
                                 "time \"\(Terminal.excerpt(bytes[cells[0]]))\" is not a finite number")
            }
            guard t >= lastTime else {
                throw LabelError(.timeBackwards, file: file, line: line,
                                 "time \(t) is earlier than \(lastTime) on line \(lastTimeLine)")
            }
            lastTime = t
            lastTimeLine = line
            for k in 0..<names.count {
                let cell = cells[k + 1]
                if cell.isEmpty { continue }
                guard let v = SidecarIO.double(bytes, cell) else {
                    throw LabelError(.nonNumeric, file: file, line: line,
                                     "\(Terminal.excerpt(names[k])) \"\(Terminal.excerpt(bytes[cell]))\" is not a finite number")
                }
                // Labels are stored as float32: a value that would become ±inf is refused.
                guard abs(v) <= Double(Float.greatestFiniteMagnitude) else {
                    throw LabelError(.nonNumeric, file: file, line: line,
                                     "\(Terminal.excerpt(names[k])) \(Terminal.excerpt(bytes[cell])) is outside the float32 range (±3.4e38)")
                }
                times[k].append(t)
                values[k].append(v)
            }
        }
        guard sawHeader else { throw LabelError(.badHeader, file: file, line: 1, "empty file: no header") }
        return names.indices.map { SignalSeries(name: names[$0], times: times[$0], values: values[$0], file: file) }
    }
}
