import CFFmpeg
import CFFmpegLog
import Synchronization
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

/// One decoder's capture of FFmpeg's last error line: its codec and format contexts point at it
/// (`opaque`), so that lines logged on FFmpeg's frame threads reach this decoder's errors.
final class LogSink {
    let pointer: OpaquePointer?
    init() { pointer = fp_log_sink_new() }
    deinit { fp_log_sink_free(pointer) }
    var opaque: UnsafeMutableRawPointer? { pointer.map { UnsafeMutableRawPointer($0) } }
}

/// The last error line FFmpeg logged for `sink`'s decoder, else on the calling thread, or nil.
func ffmpegLastLogLine(_ sink: LogSink? = nil) -> String? {
    let line = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buf in
        buf[0] = 0
        if let p = sink?.pointer { fp_log_sink_copy(p, buf.baseAddress!, 512) }
        if buf[0] == 0 { fp_copy_last_log(buf.baseAddress!, 512) }
        return String(cString: buf.baseAddress!)
    }
    return line.isEmpty ? nil : line
}

/// Forgets the last logged line, of `sink` and of the calling thread (before an FFmpeg call whose
/// failure we explain).
func ffmpegClearLastLog(_ sink: LogSink? = nil) {
    if let p = sink?.pointer { fp_log_sink_clear(p) }
    fp_clear_last_log()
}

/// Combines FFmpeg's return-code text with its last logged line when that adds something.
func ffmpegMessage(_ code: Int32, context: String, sink: LogSink? = nil) -> String {
    var text = "\(context): \(ffmpegErrorString(code))"
    if let line = ffmpegLastLogLine(sink), !text.contains(line) {
        text += " (\(line))"
    }
    return text
}

/// FFmpeg's logging, as FleetMedia sets it up.
///
/// **Process-wide effect:** the first `VideoDecoder` (or probe) installs an `av_log` callback
/// for the whole process (FFmpeg has one callback per process). It prints nothing by default
/// (`FLEETPREP_FFMPEG_LOG=1` prints warnings and errors to stderr as FFmpeg's own logger would)
/// and keeps each decoder's last error line, which `MediaError.message` then carries. Decoding
/// relies on it: a demuxer that stops early on damage says so only in the log.
///
/// FFmpeg has no way to read the callback a host had set before, so a host that has its own
/// passes it to `chain(to:)` (before or after the first decoder): FleetMedia forwards every
/// message to it, with its original arguments, and still captures errors.
public enum FFmpegLog {
    /// Installs the capturing callback now (decoders do it on first use).
    public static func install() { FFmpegRuntime.ensure() }

    /// Forwards every FFmpeg log message to `callback` (a function of the type
    /// `av_log_set_callback` takes, `void (*)(void *, int, const char *, va_list)`) as well; nil
    /// stops forwarding. Installs the capture if it is not yet installed.
    public static func chain(to callback: fp_av_log_callback?) {
        fp_set_chained_log_callback(callback)
        FFmpegRuntime.ensure()
    }
}

/// One-time process setup: FFmpeg's own stderr logging is replaced by the capture `FFmpegLog`
/// describes. Set `FLEETPREP_FFMPEG_LOG=1` to let FFmpeg print warnings and errors as well.
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

extension VideoDecoder {
    /// The FFmpeg libraries this process runs with (`av_version_info()`, e.g. "5.1.6-0+deb12u1").
    public static var ffmpegVersion: String { String(cString: av_version_info()) }
}

/// The count behind `VideoDecoder.openCount`: the count lives inside its mutex (a
/// `Synchronization.Mutex` has a stable address, unlike a `pthread_mutex_t` stored in a class).
final class OpenDecoders: Sendable {
    static let shared = OpenDecoders()
    private let count = Mutex(0)
    private init() {}
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}

extension String {
    /// A String from a C string that may be NULL.
    init?(optionalCString p: UnsafePointer<CChar>?) {
        guard let p else { return nil }
        self.init(cString: p)
    }
}
