import FleetLabels
import Foundation

/// Every line the CLI prints about files goes through here: control characters in names and
/// messages (terminal escapes such as `ESC ]0;…BEL` or `ESC [2J`, newlines) are escaped
/// (`Terminal.escape`), so an upload's names cannot drive the operator's terminal.
enum Out {
    /// One line on stdout, escaped (tabs between table columns are kept).
    static func line(_ text: String) {
        print(escape(text))
    }

    /// One line on stderr, escaped.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((escape(text) + "\n").utf8))
    }

    static func escape(_ text: String) -> String {
        text.split(separator: "\t", omittingEmptySubsequences: false).map { Terminal.escape(String($0)) }.joined(separator: "\t")
    }

    /// Lines on stdout, each escaped.
    static func lines(_ lines: [String]) {
        for l in lines { line(l) }
    }

    /// Flushes stdout and reports whether everything printed reached it (a full disk, a closed
    /// pipe, /dev/full: false).
    static func flushed() -> Bool {
        // nil: flush every output stream (stdout among them) without touching the global.
        guard fflush(nil) == 0 else { return false }
        // What print wrote is now with the kernel; a device that refuses data (/dev/full)
        // reported it to that flush. fsync is not wanted here (pipes, terminals).
        return true
    }
}
