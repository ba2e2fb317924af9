/// Text from untrusted files (names, sidecar content) made safe to print and to quote in an
/// error message (docs/ingest.md, "Untrusted input").
public enum Terminal {
    /// `text` with every control character written as an escape (`\e`, `\n`, `\u{9b}` …), so that
    /// no name or cell can move the cursor, clear the screen, set the window title or start a new
    /// line on the operator's terminal. Bidirectional overrides and line/paragraph separators are
    /// escaped too. Printable text, including non-ASCII letters, is kept. A file name's bytes that
    /// are not UTF-8 (`FilePathBytes`' escape scalars) are written `\xNN` (`caf\xe9.mp4`).
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for u in text.unicodeScalars {
            guard needsEscape(u) else { out.unicodeScalars.append(u); continue }
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x1B: out += "\\e"
            case FilePathBytes.escapes: out += FilePathBytes.display(String(u))
            default: out += "\\u{" + String(u.value, radix: 16) + "}"
            }
        }
        return out
    }

    @inline(__always)
    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return v < 0x20 || (v >= 0x7F && v <= 0x9F) || (v >= 0x202A && v <= 0x202E) || (v >= 0x2066 && v <= 0x2069)
            || v == 0x2028 || v == 0x2029 || v == 0x200E || v == 0x200F || v == 0x061C
            || v >= FilePathBytes.escapes.lowerBound
    }

    /// A short, escaped excerpt of untrusted content for an error message: at most `limit`
    /// characters (then `…`), control characters escaped. Error messages never carry more of a
    /// file than this, so a sidecar linked to another file cannot copy it into errors.jsonl.
    public static func excerpt(_ text: Substring, limit: Int = 16) -> String {
        let head = text.prefix(limit)
        return escape(String(head)) + (head.endIndex < text.endIndex ? "…" : "")
    }

    public static func excerpt(_ text: String, limit: Int = 16) -> String { excerpt(Substring(text), limit: limit) }

    /// The excerpt of raw bytes (invalid UTF-8 shown as U+FFFD).
    public static func excerpt(_ bytes: some Collection<UInt8>, limit: Int = 16) -> String {
        // Decode at most 4 bytes a character more than the limit: the rest is never looked at.
        let head = bytes.prefix(limit * 4 + 4)
        let s = String(decoding: head, as: UTF8.self)
        let cut = s.count > limit || head.count < bytes.count
        return escape(String(s.prefix(limit))) + (cut ? "…" : "")
    }
}
