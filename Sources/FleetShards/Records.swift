@_exported import FleetVocabulary

/// What a record's tensor is: name, element type, shape and layout ("NCHW", "NHWC", ...).
public struct TensorSpec: Sendable, Codable, Equatable {
    public var name: String
    public var dtype: ElementType
    public var shape: [Int]
    public var layout: String

    public init(name: String, dtype: ElementType, shape: [Int], layout: String) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.layout = layout
    }

    /// Bytes of the tensor: product of the shape × element width.
    /// Bytes of the tensor: product of the shape × element width (Int.max when that overflows or
    /// a dimension is negative, which no buffer can match).
    public var byteCount: Int {
        var n = dtype.byteWidth
        for d in shape {
            guard d >= 0 else { return Int.max }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return Int.max }
            n = p
        }
        return n
    }
}

/// One sample's record, all but its tensor's bytes: writers are lent those for the call that
/// writes the record (`PlacedShard.write(_:tensorBytes:tensorCRC32C:at:)`), so no record holds a
/// pointer past the buffer it points into.
public struct SampleRecord: Sendable {
    public var key: String
    public var tensor: TensorSpec
    public var labels: [Float]
    public var mask: [UInt8]
    /// Annotation JSON text ("null" when none).
    public var annotations: String
    /// Source clip, cameras, timestamps...
    public var metadata: JSONValue

    public init(key: String, tensor: TensorSpec, labels: [Float], mask: [UInt8], annotations: String, metadata: JSONValue) {
        self.key = key
        self.tensor = tensor
        self.labels = labels
        self.mask = mask
        self.annotations = annotations
        self.metadata = metadata
    }

    /// Keys are 1-96 characters of `DatasetNames.isKeyCharacter` (`[A-Za-z0-9_-]`).
    public static func isValidKey(_ key: String) -> Bool {
        let u = key.utf8
        guard !u.isEmpty, u.count <= 96 else { return false }
        return u.allSatisfy(DatasetNames.isKeyCharacter)
    }
}
