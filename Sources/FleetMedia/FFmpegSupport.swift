import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FFmpeg's message for a return code.
func ffmpegErrorString(_ code: Int32) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buf in
        fp_strerror(code, buf.baseAddress!, 256)
        return String(cString: buf.baseAddress!)
    }
}

/// The calling thread's last error line that FFmpeg logged (e.g. "moov atom not found"), or nil.
func ffmpegLastLogLine() -> String? {
    let line = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buf in
        fp_copy_last_log(buf.baseAddress!, 512)
        return String(cString: buf.baseAddress!)
    }
    return line.isEmpty ? nil : line
}

/// Forgets the calling thread's last logged line (before an FFmpeg call whose failure we explain).
func ffmpegClearLastLog() { fp_clear_last_log() }

/// Combines FFmpeg's return-code text with its last logged line when that adds something.
func ffmpegMessage(_ code: Int32, context: String) -> String {
    var text = "\(context): \(ffmpegErrorString(code))"
    if let line = ffmpegLastLogLine(), !text.contains(line) {
        text += " (\(line))"
    }
    return text
}

/// One-time process setup: FFmpeg's own stderr logging is replaced by a capture of its last error
/// line per thread, so that the messages travel inside `MediaError` instead of cluttering output.
/// Set `FLEETPREP_FFMPEG_LOG=1` to let FFmpeg print warnings and errors as well.
enum FFmpegRuntime {
    static let installed: Bool = {
        let printLevel: Int32
        if let env = getenv("FLEETPREP_FFMPEG_LOG"), env.pointee != 0, env.pointee != 0x30 /* "0" */ {
            printLevel = AV_LOG_WARNING
        } else {
            printLevel = AV_LOG_QUIET
        }
        fp_install_log_capture(printLevel)
        return true
    }()

    @inline(__always) static func ensure() { _ = installed }
}

extension String {
    /// A String from a C string that may be NULL.
    init?(optionalCString p: UnsafePointer<CChar>?) {
        guard let p else { return nil }
        self.init(cString: p)
    }
}
