// FleetVocabulary: the types that cross module boundaries, defined once. FleetKernels makes
// tensors of an `ElementType`, FleetLabels builds the `LabelSchema` of a clip's label vector, and
// FleetShards stores both; each module re-exports this one, so no module converts another's
// type (no string round-trips, no fallbacks).

/// Element type of a tensor: what the kernels write and what shards store.
public enum ElementType: String, Sendable, Codable, CaseIterable {
    /// Unsigned bytes 0...255 (only with `Normalization.none`).
    case u8
    /// IEEE 754 binary16, round-to-nearest-even.
    case f16
    /// bfloat16 (top half of a Float32), round-to-nearest-even.
    case bf16
    /// IEEE 754 binary32.
    case f32

    /// Bytes per element.
    public var byteWidth: Int {
        switch self { case .u8: 1; case .f16, .bf16: 2; case .f32: 4 }
    }

    /// numpy's dtype string (bf16 has none: stored as little-endian uint16 bit patterns).
    public var numpyDescr: String {
        switch self {
        case .u8: return "|u1"
        case .f16: return "<f2"
        case .bf16: return "<u2"
        case .f32: return "<f4"
        }
    }
}

/// How a label signal is resampled at frame times.
public enum SignalKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Linear interpolation between the samples either side of the frame.
    case continuous
    /// The last sample at or before the frame is held (gear, turn signal, ...).
    case categorical
}

/// One label field: a column of the per-sample vector.
public struct LabelField: Sendable, Hashable, Codable {
    public var name: String
    /// Unit as declared in clip.json `units` ("" when not declared).
    public var unit: String
    public var kind: SignalKind

    public init(name: String, unit: String = "", kind: SignalKind = .continuous) {
        self.name = name
        self.unit = unit
        self.kind = kind
    }
}

/// The ordered fields of the fixed-width float32 label vector. It travels with the records
/// (shard indexes and the dataset manifest store it as `{"names", "units", "kinds"}`) so that a
/// reader knows what column k means.
public struct LabelSchema: Sendable, Hashable, Codable {
    public var fields: [LabelField]

    public init(fields: [LabelField]) { self.fields = fields }

    /// A schema from parallel arrays (`units` and `kinds` may be shorter: "" and `.continuous`).
    public init(names: [String], units: [String] = [], kinds: [SignalKind] = []) {
        fields = names.enumerated().map { i, n in
            LabelField(name: n, unit: i < units.count ? units[i] : "", kind: i < kinds.count ? kinds[i] : .continuous)
        }
    }

    /// Number of floats (and mask bytes) per sample.
    public var width: Int { fields.count }
    public var names: [String] { fields.map(\.name) }
    public var units: [String] { fields.map(\.unit) }
    public var kinds: [SignalKind] { fields.map(\.kind) }
    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }

    private enum CodingKeys: String, CodingKey { case names, units, kinds }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let names = try c.decode([String].self, forKey: .names)
        let units = try c.decodeIfPresent([String].self, forKey: .units) ?? []
        let kinds = try c.decodeIfPresent([SignalKind].self, forKey: .kinds) ?? []
        guard units.count <= names.count, kinds.count <= names.count else {
            throw DecodingError.dataCorruptedError(forKey: .units, in: c, debugDescription: "more units or kinds than names")
        }
        self.init(names: names, units: units, kinds: kinds)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(names, forKey: .names)
        try c.encode(units, forKey: .units)
        try c.encode(kinds, forKey: .kinds)
    }
}

// MARK: - Tensor layout and shard digests (issue 26: no strings at the module seams)

/// How a camera's image is laid out in a tensor: what the kernels write (FleetKernels), what
/// records store (FleetShards, as `"NCHW"` / `"NHWC"` with the camera dimension first) and what
/// ingest configures (FleetPrep, as `chw` / `hwc`).
public enum TensorLayout: String, Sendable, Codable, CaseIterable {
    /// Planar: [channels, height, width].
    case chw
    /// Interleaved: [height, width, channels].
    case hwc

    /// The name a record's tensor carries: the camera dimension, then this layout.
    public var recordName: String { self == .chw ? "NCHW" : "NHWC" }

    /// The layout of a record's tensor named `recordName` (`"NCHW"` or `"NHWC"`).
    public init?(recordName: String) {
        switch recordName {
        case "NCHW": self = .chw
        case "NHWC": self = .hwc
        default: return nil
        }
    }

    /// Height and width of a record tensor of `shape` ([camera, …] in this layout); nil unless
    /// the shape has four dimensions.
    public func heightAndWidth(of shape: [Int]) -> (height: Int, width: Int)? {
        guard shape.count == 4 else { return nil }
        return self == .chw ? (shape[2], shape[3]) : (shape[1], shape[2])
    }
}

/// A shard's digest, as `index.json` stores it: `SCHEME:HEX` (FleetShards' `ShardDigest` says
/// what each scheme covers).
public struct ContentDigest: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        /// SHA-256 of the whole file.
        case sha256
        /// SHA-256 over each segment's length and CRC-32C.
        case crc32cSegments = "crc32c-segments"
        /// SHA-256 over each segment's SHA-256.
        case sha256Segments = "sha256-segments"
    }

    public var scheme: Scheme
    /// Lower-case hexadecimal digits.
    public var hex: String

    public init(scheme: Scheme, hex: String) {
        self.scheme = scheme
        self.hex = hex
    }

    /// Parses `SCHEME:HEX`; nil for an unknown scheme or a value that is not hexadecimal.
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":"), let scheme = Scheme(rawValue: String(text[..<colon])) else { return nil }
        let hex = text[text.index(after: colon)...]
        guard !hex.isEmpty, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        self.init(scheme: scheme, hex: String(hex))
    }

    public var description: String { scheme.rawValue + ":" + hex }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let d = ContentDigest(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(text)\" is not a digest (SCHEME:HEX with scheme \(Scheme.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
