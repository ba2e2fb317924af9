import ArgumentParser
import FleetLabels
import FleetMedia
import Foundation

/// `fleetprep probe FILE...`: one row (or one JSON object per line) of clip facts per file.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print the facts of video clips (container, codec, size, pixel format, frame rate, ...).",
        discussion: """
        A file that cannot be read prints its error (on stderr for the table, as an "error" object \
        with --json) and the other files still print. Exit status: 0 when every file was read, \
        1 when any failed.
        """
    )

    @Argument(help: "Clip files to probe.", completion: .file())
    var files: [String]

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Flag(name: .customLong("count-frames"), help: "Decode every frame to count them (slower; also finds damaged data).")
    var countFrames = false

    @Option(help: "Decoder threads for --count-frames (0 = one per core).")
    var threads = 0

    func validate() throws {
        if threads < 0 { throw ValidationError("--threads must be 0 or more, got \(threads)") }
    }

    struct Row: Encodable {
        var path: String
        var info: ClipInfo?
        var frames: Int?
        var error: ErrorInfo?
    }

    struct ErrorInfo: Encodable {
        var kind: String
        var message: String
    }

    func run() throws {
        var failed = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if !json {
            print(ProbeTable.header)
        }
        for path in files {
            var row = Row(path: path)
            do {
                let decoder = try VideoDecoder(path: path, options: DecoderOptions(threads: threads))
                row.info = decoder.info
                if countFrames { row.frames = try decoder.countFrames() }
            } catch let e as MediaError {
                row.error = ErrorInfo(kind: e.kind.rawValue, message: e.message)
                failed += 1
            }
            if json {
                // A name whose bytes are not UTF-8 written \xNN, as everywhere (FilePathBytes).
                var shown = row
                shown.path = FilePathBytes.display(path)
                shown.info?.path = FilePathBytes.display(path)
                print(String(decoding: try encoder.encode(shown), as: UTF8.self))
            } else if let info = row.info, row.error == nil {
                Out.line(ProbeTable.row(info, frames: row.frames))
            } else if let e = row.error {
                if let info = row.info { Out.line(ProbeTable.row(info, frames: nil)) }
                Out.error("fleetprep: \(path): \(e.kind): \(e.message)")
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// The human-readable probe table.
enum ProbeTable {
    static let header = "FILE\tCONTAINER\tCODEC\tPROFILE\tSIZE\tPIX_FMT\tBITS\tCOLOR\tFPS\tDURATION\tROTATION\tSTREAM\tFRAMES"

    static func row(_ i: ClipInfo, frames: Int?) -> String {
        let fps = i.frameRate.isKnown ? String(format: "%.3f", i.frameRate.doubleValue) : "?"
        let duration = i.duration.map { String(format: "%.3fs", $0) } ?? "?"
        let count = frames.map(String.init) ?? i.frameCountHint.map { "~\($0)" } ?? "?"
        return [i.path, i.container, i.codec, i.profile ?? "-", "\(i.width)x\(i.height)", i.pixelFormat.name,
                "\(i.bitDepth)", "\(i.colorSpace)/\(i.colorRange)", fps, duration,
                String(format: "%g", i.rotation), "\(i.streamIndex)/\(i.streamCount)", count].joined(separator: "\t")
    }
}
