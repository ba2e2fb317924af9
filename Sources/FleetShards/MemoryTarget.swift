/// A memory a shard is sized for: a named accelerator memory or a plain byte count.
///
/// | name | bytes | what |
/// |---|---|---|
/// | `dojo-node` | 1.25 MB | SRAM of one Dojo D1 training node |
/// | `dojo-d1` | 442.5 MB (354 × 1.25 MB) | SRAM of one D1 die |
/// | `dojo-tile` | 11 GB | SRAM of one training tile (25 D1) |
/// | `dojo-dip` | 32 GB | HBM of one Dojo Interface Processor |
/// | `h100` | 80 GB | HBM3 of one H100 SXM |
///
/// Sources are in `source` and docs/shard-format.md.
public struct MemoryTarget: Sendable, Codable, Equatable {
    public var name: String
    public var bytes: Int64
    public var source: String

    public init(name: String, bytes: Int64, source: String) {
        self.name = name
        self.bytes = bytes
        self.source = source
    }

    /// The named profiles (decimal units, as the vendors state them).
    public static let profiles: [MemoryTarget] = [
        MemoryTarget(name: "dojo-node", bytes: 1_250_000,
                     source: "Tesla AI Day 2021: D1 training node, 1.25 MB SRAM"),
        MemoryTarget(name: "dojo-d1", bytes: 354 * 1_250_000,
                     source: "Tesla AI Day 2021: D1 chip, 354 training nodes x 1.25 MB (~440 MB SRAM)"),
        MemoryTarget(name: "dojo-tile", bytes: 11_000_000_000,
                     source: "Tesla AI Day 2021/2022: training tile of 25 D1, 11 GB SRAM"),
        MemoryTarget(name: "dojo-dip", bytes: 32_000_000_000,
                     source: "Tesla AI Day 2022: Dojo Interface Processor, 32 GB HBM"),
        MemoryTarget(name: "h100", bytes: 80_000_000_000,
                     source: "NVIDIA H100 SXM datasheet: 80 GB HBM3"),
    ]

    /// Parses a profile name or a byte count: `1000000`, `64MB`, `512MiB`, `2GiB`, `1.5GB`
    /// (k/M/G/T decimal, Ki/Mi/Gi/Ti binary; a trailing `B` is optional).
    public init(parsing text: String) throws(ShardError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let p = Self.profiles.first(where: { $0.name == t.lowercased() }) {
            self = p
            return
        }
        var number = ""
        var unit = ""
        for ch in t {
            if unit.isEmpty && (ch.isNumber || ch == ".") { number.append(ch) } else { unit.append(ch) }
        }
        let units: [String: Double] = [
            "": 1, "b": 1,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "ki": 1024, "kib": 1024, "mi": 1048576, "mib": 1048576, "gi": 1073741824, "gib": 1073741824,
            "ti": 1099511627776, "tib": 1099511627776,
        ]
        guard let value = Double(number), value > 0, value.isFinite,
              let scale = units[unit.trimmingCharacters(in: .whitespaces).lowercased()] else {
            throw ShardError(.invalidArgument, "unknown memory target \"\(text)\": expected \(Self.profiles.map(\.name).joined(separator: ", ")) or a size such as 512MiB")
        }
        let bytes = value * scale
        guard bytes >= 4096, bytes < 1e18 else {
            throw ShardError(.invalidArgument, "memory target \"\(text)\" must be between 4 KiB and 1 EB")
        }
        self.init(name: t, bytes: Int64(bytes), source: "a byte count (not an accelerator profile)")
    }
}

/// The bytes one shard may take: the target's memory times the fill fraction.
public struct ShardBudget: Sendable, Codable, Equatable {
    /// Default fill: the whole target for a byte count; a quarter of a named accelerator
    /// memory, which leaves the rest for the model, activations and double buffering.
    public static func defaultFill(for target: MemoryTarget) -> Double {
        MemoryTarget.profiles.contains(target) ? 0.25 : 1.0
    }

    public var target: MemoryTarget
    public var fill: Double

    public init(target: MemoryTarget, fill: Double) throws(ShardError) {
        guard fill > 0, fill <= 1, fill.isFinite else {
            throw ShardError(.invalidArgument, "fill fraction must be in (0, 1], got \(fill)")
        }
        let bytes = Int64((Double(target.bytes) * fill).rounded(.down))
        guard bytes >= 4096 else {
            throw ShardError(.invalidArgument, "\(target.name) × \(fill) is \(bytes) bytes; a shard needs at least 4096")
        }
        self.target = target
        self.fill = fill
    }

    /// Largest shard size in bytes.
    public var bytes: Int64 { Int64((Double(target.bytes) * fill).rounded(.down)) }
}
