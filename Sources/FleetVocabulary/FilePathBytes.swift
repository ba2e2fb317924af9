#if canImport(Glibc)
import Glibc
#endif

/// File names as the file system has them — bytes, not necessarily UTF-8 — held losslessly in a
/// `String` (docs/ingest.md, "Untrusted input").
///
/// Linux names files by bytes: `caf\xe9.mp4` (Latin-1) or `ev\xff` are legal names that are not
/// UTF-8. Foundation decodes such a name lossily (U+FFFD), and the path then leads nowhere. This
/// codec, in the spirit of Python's `surrogateescape`, maps them instead:
///
/// - every well-formed UTF-8 sequence is its scalar (so UTF-8 names are plain strings, unchanged);
/// - every byte `b` that is not part of a well-formed sequence (always 0x80...0xFF) becomes the
///   Private Use scalar U+10FF00 + b (U+10FF80...U+10FFFF, the last 128 scalars of plane 16);
/// - a well-formed sequence whose scalar is itself in U+10FF80...U+10FFFF (a real name holding
///   one: rare) is escaped byte by byte too, so that no string stands for two byte names.
///
/// `bytes(string(b)) == b` for every byte sequence `b` (the tests check it on random names), so
/// `string` is one-to-one. Every call that hands a discovered path to the system (open, stat,
/// lstat, realpath, opendir, FFmpeg's `avformat_open_input`) goes through
/// `withFileSystemRepresentation`, which gives the original bytes back. `display` writes the
/// escaped bytes as `\xNN` for people (terminal lines, errors.jsonl, index.json's `path`).
public enum FilePathBytes {
    /// The scalars that stand for one raw byte each: U+10FF80 (byte 0x80) ... U+10FFFF (0xFF).
    public static let escapes: ClosedRange<UInt32> = 0x10FF80...0x10FFFF

    /// The string for the file-system bytes `bytes` (see the type's rules).
    public static func string<C: Collection<UInt8>>(_ bytes: C) -> String {
        let a = Array(bytes)
        if let s = String(validating: a, as: UTF8.self), !hasEscapes(s) { return s }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < a.count {
            let n = wellFormedLength(a, at: i)
            if n == 0 {
                out.append(escape(a[i]))
                i += 1
                continue
            }
            let scalar = String(decoding: a[i..<(i + n)], as: UTF8.self).unicodeScalars.first!
            if escapes.contains(scalar.value) {
                for k in i..<(i + n) { out.append(escape(a[k])) }
            } else {
                out.append(scalar)
            }
            i += n
        }
        return String(out)
    }

    /// The string for a NUL-terminated name the system returned (`readdir`, `realpath`).
    public static func string(cString: UnsafePointer<CChar>) -> String {
        string(UnsafeBufferPointer(start: cString, count: strlen(cString)).lazy.map { UInt8(bitPattern: $0) })
    }

    /// The file-system bytes `path` stands for: each escape scalar its byte, every other scalar
    /// its UTF-8.
    public static func bytes(_ path: String) -> [UInt8] {
        guard hasEscapes(path) else { return Array(path.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        for u in path.unicodeScalars {
            if escapes.contains(u.value) { out.append(UInt8(u.value - 0x10FF00)) } else { out.append(contentsOf: String(u).utf8) }
        }
        return out
    }

    /// Whether `path` holds escaped bytes (its file-system name is not the UTF-8 of the string).
    /// U+10FF80...U+10FFFF are the UTF-8 sequences F4 8F BE 80 ... F4 8F BF BF.
    public static func hasEscapes(_ path: String) -> Bool {
        var it = path.utf8.makeIterator()
        var state = 0
        while let b = it.next() {
            switch (state, b) {
            case (_, 0xF4): state = 1
            case (1, 0x8F): state = 2
            case (2, 0xBE), (2, 0xBF): return true
            default: state = 0
            }
        }
        return false
    }

    /// Calls `body` with `path`'s file-system bytes as a C string. A path holding a NUL byte
    /// names no file: `body` gets the empty string (the call then fails with ENOENT) rather than
    /// the part before the NUL, which would be another file.
    public static func withFileSystemRepresentation<R>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        if !hasEscapes(path) && !path.utf8.contains(0) { return try path.withCString(body) }
        var b = bytes(path)
        if b.contains(0) { b = [] }
        b.append(0)
        return try b.withUnsafeBufferPointer { p in
            try p.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// `path` for people: each escaped byte written `\xNN` (`caf\xe9.mp4`), the rest unchanged.
    /// Not reversible (a real name may hold the text `\xe9`); `bytes` is the exact form.
    public static func display(_ path: String) -> String {
        guard hasEscapes(path) else { return path }
        var out = ""
        for u in path.unicodeScalars {
            if escapes.contains(u.value) { out += "\\x" + hex2(UInt8(u.value - 0x10FF00)) } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        return String(String.UnicodeScalarView([digits[Int(b >> 4)], digits[Int(b & 15)]]))
    }

    static func escape(_ b: UInt8) -> Unicode.Scalar { Unicode.Scalar(0x10FF00 + UInt32(b))! }

    /// The length of the well-formed UTF-8 sequence at `a[i]` (Unicode table 3-7), or 0.
    static func wellFormedLength(_ a: [UInt8], at i: Int) -> Int {
        let b0 = a[i]
        func cont(_ k: Int, _ r: ClosedRange<UInt8> = 0x80...0xBF) -> Bool { i + k < a.count && r.contains(a[i + k]) }
        switch b0 {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1, 0xA0...0xBF) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xED: return cont(1, 0x80...0x9F) && cont(2) ? 3 : 0
        case 0xF0: return cont(1, 0x90...0xBF) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1, 0x80...0x8F) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }
}

#if canImport(Glibc)
// Outside the enum, where `stat` names the C function (beside the struct) and not our methods.
private func systemStat(_ p: UnsafePointer<CChar>, _ st: inout stat) -> Int32 { stat(p, &st) }
private func systemLstat(_ p: UnsafePointer<CChar>, _ st: inout stat) -> Int32 { lstat(p, &st) }

/// The system calls discovery and the readers make on input paths, by their bytes.
extension FilePathBytes {
    /// An `errno` from a call on a path.
    public struct SystemError: Error, CustomStringConvertible, Sendable {
        public var code: Int32
        public var description: String { String(cString: strerror(code)) }
    }

    /// `realpath(3)` of `path` (symlinks and `..` resolved), or nil when it does not resolve.
    public static func realpath(_ path: String) -> String? {
        withFileSystemRepresentation(path) { p in
            guard let r = Glibc.realpath(p, nil) else { return nil }
            defer { free(r) }
            return string(cString: r)
        }
    }

    /// `stat(2)` (follows symlinks), or nil when it fails.
    public static func stat(_ path: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return withFileSystemRepresentation(path) { systemStat($0, &st) } == 0 ? st : nil
    }

    /// `lstat(2)` (the link itself), or nil when it fails.
    public static func lstat(_ path: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return withFileSystemRepresentation(path) { systemLstat($0, &st) } == 0 ? st : nil
    }

    /// `open(2)`: the descriptor, or -1 with `errno` set.
    public static func open(_ path: String, _ flags: Int32) -> Int32 {
        withFileSystemRepresentation(path) { Glibc.open($0, flags) }
    }

    /// The names in directory `dir` (`.` for ""), as read by `readdir` — bytes, not decoded
    /// lossily — without "." and "..", in the directory's order.
    public static func names(inDirectory dir: String) throws(SystemError) -> [String] {
        guard let d = withFileSystemRepresentation(dir.isEmpty ? "." : dir, { opendir($0) }) else {
            throw SystemError(code: errno)
        }
        defer { closedir(d) }
        var out: [String] = []
        while true {
            errno = 0
            guard let e = readdir(d) else {
                if errno != 0 { throw SystemError(code: errno) }
                break
            }
            let name = withUnsafeBytes(of: e.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            out.append(string(name))
        }
        return out
    }
}
#endif
