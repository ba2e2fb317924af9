/// A camera's name ("main", "rear", "left_repeater", …): what clip groups, clip.json, manifests,
/// sync, ingest configuration and records call a camera. Strings become camera names at the
/// edges (CLI flags, JSON configuration, clip.json, manifests, file names), each with its own
/// validation and errors; between modules a camera travels as this type.
///
/// Codes as a plain JSON string (`"main"`), and as an object key in dictionaries keyed by
/// camera (`{"rear": 0.004}`), so files that hold camera names keep their bytes.
public struct CameraName: Sendable, Hashable, Comparable, Codable, CodingKeyRepresentable,
                          ExpressibleByStringLiteral, CustomStringConvertible, CustomDebugStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// The name itself.
    public var description: String { rawValue }
    /// The name quoted, as a `String` prints in a collection (`["main", "rear"]`).
    public var debugDescription: String { rawValue.debugDescription }
    /// Whether the name is empty (a lone video's unnamed camera).
    public var isEmpty: Bool { rawValue.isEmpty }

    /// In the order of their names.
    public static func < (a: CameraName, b: CameraName) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var codingKey: CodingKey { Key(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { rawValue = codingKey.stringValue }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension Sequence where Element == CameraName {
    /// The names joined by `separator` ("main,rear").
    public func joined(separator: String = "") -> String { map(\.rawValue).joined(separator: separator) }
}
