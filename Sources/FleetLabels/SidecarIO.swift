import Foundation
#if canImport(Glibc)
import Glibc
private let sysRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let sysRead = Darwin.read
#endif

/// Reading sidecar files with a size limit, and splitting them into numbered lines.
enum SidecarIO {
    /// Reads a whole sidecar, refusing files larger than `limit` bytes before reading them.
    ///
    /// Only regular files are read: the file is opened without blocking (`O_NONBLOCK`, so a FIFO
    /// cannot stop the batch in `open`) and checked with `fstat` before any byte is read.
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        try withRegularFile(path, limit: limit) { fd, size in
            // Read at most limit+1 bytes so that a file growing after the stat still cannot exceed it.
            let cap = limit < Int.max ? limit + 1 : limit
            var out = [UInt8](repeating: 0, count: min(cap, Int(size) + 1))
            var n = 0
            while true {
                if n == out.count {
                    guard out.count < cap else { break }
                    out += [UInt8](repeating: 0, count: min(cap - out.count, max(out.count, 4096)))
                }
                let r = out.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress! + n, $0.count - n) }
                if r < 0 {
                    if errno == EINTR { continue }
                    throw LabelError(.unreadable, file: path, "read failed: \(String(cString: strerror(errno)))")
                }
                if r == 0 { break }
                n += r
            }
            if n > limit {
                throw LabelError(.tooLarge, file: path, "larger than the sidecar limit of \(limit) bytes")
            }
            out.removeSubrange(n...)
            return out
        }
    }

    /// The first line of a sidecar (without its terminator), read in pieces: at most `limit` bytes.
    static func firstLine(_ path: String, limit: Int) throws -> [UInt8] {
        try withRegularFile(path, limit: Int.max) { fd, _ in
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let r = chunk.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress!, $0.count) }
                if r < 0 {
                    if errno == EINTR { continue }
                    throw LabelError(.unreadable, file: path, "read failed: \(String(cString: strerror(errno)))")
                }
                if r == 0 { break }
                if let nl = chunk[0..<r].firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
                    out += chunk[0..<nl]
                    break
                }
                out += chunk[0..<r]
                if out.count > limit {
                    throw LabelError(.tooLarge, file: path, "first line is longer than the sidecar limit of \(limit) bytes")
                }
            }
            if out.count >= 3, out[0] == 0xEF, out[1] == 0xBB, out[2] == 0xBF { out.removeFirst(3) }
            return out
        }
    }

    /// Opens `path` for reading without blocking, checks that it is a regular file of at most
    /// `limit` bytes, and calls `body` with the descriptor and size.
    private static func withRegularFile<T>(_ path: String, limit: Int, _ body: (Int32, Int64) throws -> T) throws -> T {
        let fd = FilePathBytes.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)   // by its bytes
        guard fd >= 0 else {
            let e = errno
            throw LabelError(.unreadable, file: path, "cannot open for reading: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw LabelError(.unreadable, file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LabelError(.unreadable, file: path, "is not a regular file (a FIFO, device, socket or directory)")
        }
        if Int64(st.st_size) > Int64(limit) {
            throw LabelError(.tooLarge, file: path, "\(st.st_size) bytes is larger than the sidecar limit of \(limit) bytes")
        }
        // Regular files never block; clear the flag so reads behave as usual.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return try body(fd, Int64(st.st_size))
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

    /// Replaces `cells` with the trimmed `,`-separated cells of `bytes[range]`; `each` is called
    /// with the count after every cell but the last (a cancellation check for very wide lines).
    @inline(__always)
    static func splitCells(_ bytes: [UInt8], _ range: Range<Int>, into cells: inout [Range<Int>],
                           each: (Int) throws -> Void = { _ in }) rethrows {
        cells.removeAll(keepingCapacity: true)
        var start = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            if bytes[i] == UInt8(ascii: ",") {
                cells.append(trim(bytes, start..<i))
                start = i + 1
                try each(cells.count)
            }
            i += 1
        }
        cells.append(trim(bytes, start..<range.upperBound))
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

    /// A short, escaped excerpt of untrusted text for an error message: at most 40 characters,
    /// control characters and non-ASCII written as escapes, so that a file's content never reaches
    /// a terminal raw.
    static func excerpt(_ text: String, limit: Int = 40) -> String {
        var out = ""
        for (i, u) in text.unicodeScalars.enumerated() {
            if i >= limit { out += "…"; break }
            if u.value >= 0x20 && u.value < 0x7F && u != "\\" && u != "\"" {
                out.unicodeScalars.append(u)
            } else {
                out += u.escaped(asASCII: true)
            }
        }
        return "\"" + out + "\""
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
