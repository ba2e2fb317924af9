import ArgumentParser
import FleetPrep

@main
struct FleetPrepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetprep",
        abstract: "Turn fleet camera video into sharded training data.",
        version: "fleetprep \(fleetPrepVersion) (FFmpeg \(VideoDecoder.ffmpegVersion))",
        subcommands: [ProbeCommand.self, DiscoverCommand.self, IngestCommand.self, InspectCommand.self, VerifyCommand.self, DumpCommand.self, MergeCommand.self, PlanCommand.self, BenchCommand.self]
    )
}
