import CFFmpeg
import FleetVocabulary
#if canImport(Glibc)
import Glibc
#endif

/// Paths reach FFmpeg and the system by their bytes: a discovered name that is not UTF-8
/// (`caf\xe9.mp4`) is held in `FilePathBytes`' string form, which only these calls turn back
/// into the file's real name.
extension VideoDecoder {
    /// `avformat_open_input` on `path`'s file-system bytes.
    static func openInput(_ fmt: inout UnsafeMutablePointer<AVFormatContext>?, _ path: String) -> Int32 {
        FilePathBytes.withFileSystemRepresentation(path) { avformat_open_input(&fmt, $0, nil, nil) }
    }

    /// `stat(2)` on `path`'s file-system bytes.
    static func statPath(_ path: String, _ st: inout Glibc.stat) -> Int32 {
        FilePathBytes.withFileSystemRepresentation(path) { systemStat($0, &st) }
    }

    /// `access(2)` on `path`'s file-system bytes.
    static func accessPath(_ path: String, _ mode: Int32) -> Int32 {
        FilePathBytes.withFileSystemRepresentation(path) { access($0, mode) }
    }
}

private func systemStat(_ p: UnsafePointer<CChar>, _ st: inout stat) -> Int32 { stat(p, &st) }
