/// A minimal JSON scanner for one question: where, in the bytes of a JSON object, are the string
/// values of a top-level key? It follows the grammar (strings with escapes, nested objects and
/// arrays, numbers, literals, whitespace anywhere JSON allows it), so a key written with spaces
/// (`"k" : "v"`) is found and the same key inside a nested value is not. Used to locate a wds
/// .json member's `json_crc32c` digits, which the CRC must skip, and its `annotations` as written.
enum TopLevelJSON {
    /// The byte ranges (inside the quotes) of every string value of top-level `key`, in order;
    /// a value of `key` that is not a string is reported as an empty range at its position.
    /// nil when `bytes` is not one JSON object (trailing whitespace allowed).
    static func stringValues(_ bytes: UnsafeRawBufferPointer, key: String) -> [Range<Int>]? {
        values(bytes, key: key) { s in
            if s.peek == UInt8(ascii: "\"") { return s.string() }
            let at = s.i
            return s.value(depth: 0) ? at..<at : nil
        }
    }

    /// The byte ranges of every value of top-level `key` as written (a string with its quotes),
    /// in order; nil when `bytes` is not one JSON object (trailing whitespace allowed).
    static func valueRanges(_ bytes: UnsafeRawBufferPointer, key: String) -> [Range<Int>]? {
        values(bytes, key: key) { s in
            let at = s.i
            return s.value(depth: 0) ? at..<s.i : nil
        }
    }

    /// Walks the top-level object: `take` reads each value of `key` (returning its range, nil
    /// when it is malformed); other values are skipped.
    private static func values(_ bytes: UnsafeRawBufferPointer, key: String,
                               take: (inout Scanner) -> Range<Int>?) -> [Range<Int>]? {
        var s = Scanner(b: bytes)
        let wanted = Array(key.utf8)
        var out: [Range<Int>] = []
        s.ws()
        guard s.eat(UInt8(ascii: "{")) else { return nil }
        s.ws()
        if s.eat(UInt8(ascii: "}")) { s.ws(); return s.atEnd ? out : nil }
        while true {
            s.ws()
            guard let k = s.string() else { return nil }
            s.ws()
            guard s.eat(UInt8(ascii: ":")) else { return nil }
            s.ws()
            if s.equals(k, wanted) {
                guard let v = take(&s) else { return nil }
                out.append(v)
            } else {
                guard s.value(depth: 0) else { return nil }
            }
            s.ws()
            if s.eat(UInt8(ascii: ",")) { continue }
            guard s.eat(UInt8(ascii: "}")) else { return nil }
            s.ws()
            return s.atEnd ? out : nil
        }
    }

    private struct Scanner {
        let b: UnsafeRawBufferPointer
        var i = 0
        var atEnd: Bool { i >= b.count }
        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func ws() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        }

        mutating func eat(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }

        /// A string at `i`: returns the range of its raw content (escapes not decoded).
        mutating func string() -> Range<Int>? {
            guard eat(UInt8(ascii: "\"")) else { return nil }
            let start = i
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; return start..<(i - 1) }
                if c < 0x20 { return nil }
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < b.count else { return nil }
                    if b[i + 1] == UInt8(ascii: "u") {
                        guard i + 5 < b.count else { return nil }
                        i += 6
                        continue
                    }
                    i += 2
                    continue
                }
                i += 1
            }
            return nil
        }

        /// Whether the raw key bytes equal `wanted` (a key written with escapes never matches:
        /// FleetPrep writes its keys plainly).
        func equals(_ r: Range<Int>, _ wanted: [UInt8]) -> Bool {
            r.count == wanted.count && zip(b[r], wanted).allSatisfy { $0 == $1 }
        }

        /// Skips one value of any kind.
        mutating func value(depth: Int) -> Bool {
            guard depth < 512, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1
                ws()
                if eat(close) { return true }
                while true {
                    ws()
                    if c == UInt8(ascii: "{") {
                        guard string() != nil else { return false }
                        ws()
                        guard eat(UInt8(ascii: ":")) else { return false }
                        ws()
                    }
                    guard value(depth: depth + 1) else { return false }
                    ws()
                    if eat(UInt8(ascii: ",")) { continue }
                    return eat(close)
                }
            default:
                // A number or a literal: the run of characters that can make one.
                let start = i
                while i < b.count, let _ = "+-.0123456789eEtrufalsn".utf8.firstIndex(of: b[i]) { i += 1 }
                return i > start
            }
        }
    }
}
