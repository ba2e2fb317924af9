import Foundation

/// A numeric array read from a NumPy `.npy` file (format versions 1–3), as `np.save` writes it:
/// also the extension-less files comma2k19 ships (`global_pose/frame_times`,
/// `processed_log/CAN/speed/t`, …), which are `.npy` data under another name.
///
/// The header is untrusted: its shape is checked against the bytes that really follow before
/// anything is allocated, and only 1-D arrays or 2-D arrays of one column (`(n,)`, `(n, 1)`,
/// C or Fortran order) of plain numbers are accepted (`<f8 <f4 <f2 <i1…<i8 <u1…<u8 |b1`, either
/// byte order). Values come back as `Double`.
public struct NumpyArray: Sendable, Hashable {
    public var values: [Double]
    /// The shape the header declares.
    public var shape: [Int]

    /// Whether `bytes` start with the NumPy magic string (`\x93NUMPY`).
    public static func isNumpy(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 6 && bytes[0] == 0x93 && Array(bytes[1..<6]) == Array("NUMPY".utf8)
    }

    /// Whether the file at `path` starts with the NumPy magic string.
    public static func isNumpy(path: String) -> Bool {
        let fd = FilePathBytes.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)   // by its bytes; a FIFO never blocks
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        var head = [UInt8](repeating: 0, count: 6)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 6) }
        return n == 6 && isNumpy(head)
    }

    public static func load(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> NumpyArray {
        try parse(SidecarIO.read(path, limit: maxBytes), file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> NumpyArray {
        func bad(_ why: String) -> LabelError { LabelError(.badValue, file: file, "not a readable numpy array: \(why)") }
        guard isNumpy(bytes) else { throw bad("no \\x93NUMPY magic") }
        guard bytes.count >= 10 else { throw bad("truncated header") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw bad("format version \(major) is not 1, 2 or 3")
        }
        guard headerLength <= 1 << 16, headerStart + headerLength <= bytes.count else {
            throw bad("header length \(headerLength) runs past the file (\(bytes.count) bytes)")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let descr = try field("descr", in: header, file: file)
        let fortran = try field("fortran_order", in: header, file: file)
        let shapeText = try field("shape", in: header, file: file)
        guard let dtype = DType(descr: descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))) else {
            throw bad("dtype \(SidecarIO.excerpt(descr)) is not a plain number type")
        }
        guard fortran == "False" || fortran == "True" else { throw bad("fortran_order \(SidecarIO.excerpt(fortran))") }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let n = Int(t), n >= 0 else { throw bad("shape \(SidecarIO.excerpt(shapeText))") }
            shape.append(n)
        }
        guard shape.count == 1 || (shape.count == 2 && shape[1] == 1) else {
            throw bad("shape \(SidecarIO.excerpt(shapeText)): one value per row is needed, (n,) or (n, 1)")
        }
        let count = shape[0]
        let dataStart = headerStart + headerLength
        let (need, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, need <= bytes.count - dataStart else {
            throw bad("the header claims \(count) value(s) of \(dtype.size) byte(s), but \(bytes.count - dataStart) byte(s) follow it")
        }
        var values = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart
            for i in 0..<count { values[i] = dtype.read(base + i * dtype.size) }
        }
        return NumpyArray(values: values, shape: shape)
    }

    /// The text of `'key': value` in a NumPy header dict (a value is a quoted string, a word, or
    /// a parenthesised tuple).
    private static func field(_ key: String, in header: String, file: String) throws -> String {
        guard let k = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
              let colon = header[k.upperBound...].firstIndex(of: ":") else {
            throw LabelError(.badValue, file: file, "not a readable numpy array: no \(key) in its header")
        }
        var rest = header[header.index(after: colon)...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else {
                throw LabelError(.badValue, file: file, "not a readable numpy array: unclosed \(key)")
            }
            return String(rest[...close])
        }
        if let q = rest.first, q == "'" || q == "\"" {
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: q) else {
                throw LabelError(.badValue, file: file, "not a readable numpy array: unclosed \(key)")
            }
            return String(rest[..<end])
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    private struct DType {
        enum Kind { case float, signed, unsigned, bool }
        var kind: Kind
        var size: Int
        var bigEndian: Bool

        init?(descr: String) {
            guard descr.count >= 3, let order = descr.first, "<>|=".contains(order),
                  let size = Int(descr.dropFirst(2)) else { return nil }
            bigEndian = order == ">"
            switch descr.dropFirst().first {
            case "f" where [2, 4, 8].contains(size): kind = .float
            case "i" where [1, 2, 4, 8].contains(size): kind = .signed
            case "u" where [1, 2, 4, 8].contains(size): kind = .unsigned
            case "b" where size == 1: kind = .bool
            default: return nil
            }
            self.size = size
        }

        func read(_ p: UnsafeRawPointer) -> Double {
            var bits: UInt64 = 0
            for i in 0..<size {
                let b = UInt64(p.load(fromByteOffset: bigEndian ? size - 1 - i : i, as: UInt8.self))
                bits |= b << (8 * UInt64(i))
            }
            switch kind {
            case .float:
                switch size {
                case 2: return Double(Float(Float16(bitPattern: UInt16(bits))))
                case 4: return Double(Float(bitPattern: UInt32(bits)))
                default: return Double(bitPattern: bits)
                }
            case .signed:
                let shift = UInt64(64 - 8 * size)
                return Double(Int64(bitPattern: bits << shift) >> Int64(shift))
            case .unsigned, .bool:
                return Double(bits)
            }
        }
    }
}

/// A camera's frame times from a log beside its video (`<stem>.frame_times.csv|.npy`,
/// `frame_times.*`, comma2k19's `global_pose/frame_times`): one time per frame, in seconds,
/// on the log's own clock, finite and increasing.
///
/// CSV: one number per line, after an optional header line whose first cell is not a number
/// (e.g. `t`); with several columns, the first is the time. NumPy: any file that starts with
/// the `.npy` magic, whatever its name.
public enum FrameTimesLog {
    public static func load(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> [Double] {
        let bytes = try SidecarIO.read(path, limit: maxBytes)
        let times: [Double]
        if NumpyArray.isNumpy(bytes) {
            times = try NumpyArray.parse(bytes, file: path).values
        } else {
            times = try parseCSV(bytes, file: path)
        }
        for i in times.indices {
            guard times[i].isFinite else {
                throw LabelError(.badFrameTimes, file: path, "frame time \(i) is \(times[i]); times must be finite")
            }
            if i > 0, times[i] <= times[i - 1] {
                throw LabelError(.badFrameTimes, file: path,
                                 "frame time \(i) (\(times[i]) s) is not after frame time \(i - 1) (\(times[i - 1]) s); times must increase")
            }
        }
        return times
    }

    static func parseCSV(_ bytes: [UInt8], file: String) throws -> [Double] {
        var out: [Double] = []
        var first = true
        try SidecarIO.forEachLine(bytes) { line, range in
            var end = range.upperBound
            if let comma = bytes[range].firstIndex(of: UInt8(ascii: ",")) { end = comma }
            let cell = SidecarIO.trim(bytes, range.lowerBound..<end)
            defer { first = false }
            if cell.isEmpty { return }
            guard let v = SidecarIO.double(bytes, cell) else {
                if first { return }   // a header such as `t`
                throw LabelError(.badFrameTimes, file: file, line: line,
                                 "\(SidecarIO.excerpt(SidecarIO.string(bytes, cell))) is not a time in seconds")
            }
            out.append(v)
        }
        return out
    }
}

/// A signal stored as two numpy arrays (`t` and `value`), as comma2k19's CAN logs are.
public enum SignalArrayFiles {
    /// Reads both arrays; they must have one value per row and equal lengths, finite values and
    /// non-decreasing times (the rules of signal CSV files).
    public static func load(_ a: ClipGroup.SignalArrays, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> SignalSeries {
        let t = try NumpyArray.load(path: a.times, maxBytes: maxBytes).values
        let v = try NumpyArray.load(path: a.values, maxBytes: maxBytes).values
        guard t.count == v.count else {
            throw LabelError(.badValue, file: a.values, "\(v.count) value(s) for \(t.count) time(s) in \(a.times)")
        }
        for i in t.indices {
            guard t[i].isFinite else { throw LabelError(.badValue, file: a.times, "time \(i) is \(t[i])") }
            if i > 0, t[i] < t[i - 1] {
                throw LabelError(.badValue, file: a.times, "time \(i) (\(t[i]) s) is earlier than time \(i - 1) (\(t[i - 1]) s)")
            }
            guard v[i].isFinite, abs(v[i]) <= Double(Float.greatestFiniteMagnitude) else {
                throw LabelError(.badValue, file: a.values, "value \(i) (\(v[i])) is outside the float32 range")
            }
        }
        return SignalSeries(name: a.name, times: t, values: v, file: a.values)
    }
}
