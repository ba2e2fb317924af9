import ArgumentParser
import FleetLabels
import FleetPrep

@main
struct FleetPrepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetprep",
        abstract: "Turn fleet camera video into sharded training data.",
        version: "fleetprep \(fleetPrepVersion) (FFmpeg \(VideoDecoder.ffmpegVersion))",
        subcommands: [ProbeCommand.self, DiscoverCommand.self, IngestCommand.self, InspectCommand.self, VerifyCommand.self, DumpCommand.self, MergeCommand.self, PlanCommand.self, BenchCommand.self]
    )

    /// The arguments as the system gave them, by their bytes (`FilePathBytes`; `CommandLine.arguments`
    /// decodes them lossily): an INPUT path that is not UTF-8 (`caf\xe9.mp4`) leads to its file.
    static func main() {
        let argv = (1..<Int(CommandLine.argc)).compactMap { CommandLine.unsafeArgv[$0].map { FilePathBytes.string(cString: $0) } }
        main(argv)
    }
}
