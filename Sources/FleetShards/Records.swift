@_exported import FleetVocabulary

/// What a record's tensor is: name, element type, shape and layout (`.chw`: [camera, C, H, W],
/// stored as "NCHW"; `.hwc`: "NHWC"; nil: not a camera image, stored as "").
public struct TensorSpec: Sendable, Codable, Equatable {
    public var name: String
    public var dtype: ElementType
    public var shape: [Int]
    public var layout: TensorLayout?

    public init(name: String, dtype: ElementType, shape: [Int], layout: TensorLayout?) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.layout = layout
    }

    private enum CodingKeys: String, CodingKey { case name, dtype, shape, layout }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        dtype = try c.decode(ElementType.self, forKey: .dtype)
        shape = try c.decode([Int].self, forKey: .shape)
        let text = try c.decode(String.self, forKey: .layout)
        guard let l = Self.layout(named: text) else {
            throw DecodingError.dataCorruptedError(forKey: .layout, in: c, debugDescription: "tensor layout \"\(text)\" is not NCHW or NHWC")
        }
        layout = l
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(dtype, forKey: .dtype)
        try c.encode(shape, forKey: .shape)
        try c.encode(layoutName, forKey: .layout)
    }

    /// The layout as records store it: "NCHW", "NHWC" or "".
    public var layoutName: String { layout?.recordName ?? "" }

    /// The layout stored as `text`: `.some(nil)` for "", nil for a name that is no layout.
    static func layout(named text: String) -> TensorLayout?? {
        if text.isEmpty { return .some(nil) }
        return TensorLayout(recordName: text).map { .some($0) }
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
    /// The sample's annotation (nil: none; the formats store `null`).
    public var annotations: Annotation?
    /// Source clip, cameras, timestamps...
    public var metadata: JSONValue

    public init(key: String, tensor: TensorSpec, labels: [Float], mask: [UInt8], annotations: Annotation?, metadata: JSONValue) {
        self.key = key
        self.tensor = tensor
        self.labels = labels
        self.mask = mask
        self.annotations = annotations
        self.metadata = metadata
    }

    /// The annotation as the formats store it: the object's text, or `null`.
    var annotationsText: String { annotations?.json ?? "null" }

    /// Keys are 1-96 characters of `DatasetNames.isKeyCharacter` (`[A-Za-z0-9_-]`).
    public static func isValidKey(_ key: String) -> Bool {
        let u = key.utf8
        guard !u.isEmpty, u.count <= 96 else { return false }
        return u.allSatisfy(DatasetNames.isKeyCharacter)
    }
}
