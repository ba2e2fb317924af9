import Foundation

/// Reading sidecar files with a size limit, and splitting them into numbered lines.
enum SidecarIO {
    /// Reads a whole sidecar, refusing files larger than `limit` bytes before reading them.
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw LabelError(.unreadable, file: path, "cannot stat: \(error.localizedDescription)")
        }
        if let size = (attributes[.size] as? NSNumber)?.int64Value, size > Int64(limit) {
            throw LabelError(.tooLarge, file: path,
                             "\(size) bytes is larger than the sidecar limit of \(limit) bytes")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LabelError(.unreadable, file: path, "cannot open for reading")
        }
        defer { try? handle.close() }
        // Read at most limit+1 bytes so that a file growing after the stat still cannot exceed it.
        let data: Data
        do {
            data = try handle.read(upToCount: limit < Int.max ? limit + 1 : limit) ?? Data()
        } catch {
            throw LabelError(.unreadable, file: path, "read failed: \(error.localizedDescription)")
        }
        if data.count > limit {
            throw LabelError(.tooLarge, file: path, "larger than the sidecar limit of \(limit) bytes")
        }
        return [UInt8](data)
    }

    /// Calls `body(lineNumber, range)` for every line of `bytes` (1-based numbers; the range
    /// excludes the line terminator, `\n` or `\r\n`; a UTF-8 BOM on line 1 is skipped).
    static func forEachLine(_ bytes: [UInt8], _ body: (Int, Range<Int>) throws -> Void) rethrows {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var line = 1
        let n = bytes.count
        while start < n {
            var end = start
            while end < n, bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > start, bytes[stop - 1] == 0x0D { stop -= 1 }
            try body(line, start..<stop)
            line += 1
            start = end + 1
        }
    }

    /// The range with ASCII spaces and tabs removed from both ends.
    @inline(__always)
    static func trim(_ bytes: [UInt8], _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
        while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
        return lo..<hi
    }

    static func string(_ bytes: [UInt8], _ r: Range<Int>) -> String {
        String(decoding: bytes[r], as: UTF8.self)
    }

    /// A finite Double from the bytes of one cell, or nil. Short cells (the usual case) fit in a
    /// small string, so this does not allocate.
    @inline(__always)
    static func double(_ bytes: [UInt8], _ r: Range<Int>) -> Double? {
        guard !r.isEmpty else { return nil }
        guard let v = Double(String(decoding: bytes[r], as: UTF8.self)), v.isFinite else { return nil }
        return v
    }

    /// 1-based line number of byte `offset` in `bytes`.
    static func lineNumber(of offset: Int, in bytes: [UInt8]) -> Int {
        var line = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }
        return line
    }
}

/// A JSON number from JSONSerialization as Double; nil for booleans, strings and the rest.
/// (On Linux `value is Bool` is true for the numbers 0 and 1; booleans have objCType "c".)
func jsonNumber(_ value: Any) -> Double? {
    guard let n = value as? NSNumber else { return nil }
    if String(cString: n.objCType) == "c" { return nil }
    return n.doubleValue
}
