import Crypto
import Foundation

/// Shard formats.
public enum ShardFormat: String, Sendable, Codable, CaseIterable {
    /// FleetPrep's aligned, indexed, checksummed format (docs/shard-format.md), extension `.fps`.
    case native
    /// WebDataset: a tar of `<key>.npy` + `<key>.json` per sample, extension `.tar`.
    case wds

    public var fileExtension: String { self == .native ? NativeShard.fileExtension : WebDatasetShard.fileExtension }
}

/// A finished shard.
public struct ShardInfo: Sendable, Codable, Equatable {
    /// File name, relative to the dataset directory.
    public var file: String
    public var samples: Int
    public var bytes: Int64
    /// `SCHEME:HEX` (see `ShardDigest`): `sha256-segments:…` from ingest, `sha256:…` (the whole
    /// file) from manifests written before segment digests (and the tests' sequential writer).
    public var digest: ContentDigest
    public var firstKey: String
    public var lastKey: String

    public init(file: String, samples: Int, bytes: Int64, digest: ContentDigest, firstKey: String, lastKey: String) {
        self.file = file
        self.samples = samples
        self.bytes = bytes
        self.digest = digest
        self.firstKey = firstKey
        self.lastKey = lastKey
    }

    enum CodingKeys: String, CodingKey { case file, samples, bytes, digest, sha256, firstKey, lastKey }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        samples = try c.decode(Int.self, forKey: .samples)
        bytes = try c.decode(Int64.self, forKey: .bytes)
        firstKey = try c.decode(String.self, forKey: .firstKey)
        lastKey = try c.decode(String.self, forKey: .lastKey)
        // Manifests from before segment digests carry a plain "sha256" of the whole file.
        if let d = try c.decodeIfPresent(ContentDigest.self, forKey: .digest) { digest = d }
        else {
            let hex = try c.decode(String.self, forKey: .sha256)
            guard let d = ContentDigest(parsing: ContentDigest.Scheme.sha256.rawValue + ":" + hex) else {
                throw DecodingError.dataCorruptedError(forKey: .sha256, in: c, debugDescription: "\"\(hex)\" is not a SHA-256")
            }
            digest = d
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(samples, forKey: .samples)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(digest, forKey: .digest)
        try c.encode(firstKey, forKey: .firstKey)
        try c.encode(lastKey, forKey: .lastKey)
    }
}
