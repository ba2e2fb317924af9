/// Errors of the ingest pipeline that are about the run as a whole (options, output directory);
/// errors about one clip are recorded per clip (`ClipFailure`) and never stop the batch.
public enum IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An option (or environment variable, or config-file key) has an invalid value.
    case badOption(String, String)
    /// The output directory cannot be used.
    case output(path: String, message: String)
    /// Nothing to ingest: no inputs, or no usable clip among them.
    case nothingToIngest(String)
    /// The run was interrupted (Ctrl-C); it can be resumed with the same command.
    case interrupted(resumeHint: String)

    public var description: String {
        switch self {
        case let .badOption(option, why): return "\(option): \(why)"
        case let .output(path, message): return "\(path): \(message)"
        case let .nothingToIngest(why): return why
        case let .interrupted(hint): return "interrupted; \(hint)"
        }
    }
}
