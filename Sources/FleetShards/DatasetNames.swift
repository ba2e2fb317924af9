/// The names a dataset's files and samples get, written once: shard files `PREFIX-NNNNNN.EXT`,
/// sample keys `CLIP-NNNNNN`, and the character rule keys and prefixes follow.
public enum DatasetNames {
    /// `n` in decimal, zero-padded to at least `width` digits ("000042").
    public static func padded(_ n: Int, width: Int = 6) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// The file name of shard `number`: `PREFIX-NNNNNN.EXT`.
    public static func shard(prefix: String, number: Int, format: ShardFormat) -> String {
        prefix + "-" + padded(number) + "." + format.fileExtension
    }

    /// True for `PREFIX-NNNNNN.` followed by anything (so that "shard" never matches
    /// "shard-w001of003-…"): exactly six digits after the prefix.
    public static func isShard(_ name: String, prefix: String) -> Bool {
        guard name.hasPrefix(prefix + "-") else { return false }
        let rest = name.dropFirst(prefix.count + 1)
        guard let dot = rest.firstIndex(of: "."), rest.distance(from: rest.startIndex, to: dot) == 6 else { return false }
        return rest[rest.startIndex..<dot].allSatisfy(\.isNumber)
    }

    /// The characters of keys and shard prefixes: `[A-Za-z0-9_-]`, safe in file names, tar member
    /// names and WebDataset keys (which end at the first '.').
    public static func isKeyCharacter(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    /// The rule `SampleRecord.isValidKey` checks, as error messages state it.
    public static let keyRule = "keys must be 1-96 characters of [A-Za-z0-9_-]"
}
