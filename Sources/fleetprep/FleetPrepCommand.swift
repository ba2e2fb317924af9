import ArgumentParser

@main
struct FleetPrepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetprep",
        abstract: "Turn fleet camera video into sharded training data.",
        subcommands: [ProbeCommand.self, IngestCommand.self, InspectCommand.self, VerifyCommand.self, DumpCommand.self, MergeCommand.self, PlanCommand.self, BenchCommand.self]
    )
}
