import CCRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and TFRecord use:
/// the SSE4.2 `crc32` instruction when the CPU has it (checked once at run time), else
/// software slicing-by-8 (`softwareChecksum`, also the tests' reference).
public enum CRC32C {
    static let hardware = fleet_crc32c_hw_available() != 0

    /// The CRC of `bytes`, continuing from `seed` (the CRC of the bytes before).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        return hardware ? fleet_crc32c_hw(seed, base, bytes.count) : softwareChecksum(bytes, seed: seed)
    }

    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    /// The portable implementation.
    public static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        guard var p = bytes.baseAddress else { return seed }
        var n = bytes.count
        tables.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            while n >= 8 {
                let lo = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ crc
                let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                p += 1
                n -= 1
            }
        }
        return ~crc
    }

    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// The CRC of A‖B from the CRC of A, the CRC of B and B's length, without reading any byte
    /// (zlib's `crc32_combine`, for this polynomial): a writer that knows a tensor's CRC can
    /// extend it over headers around the tensor instead of reading the tensor again.
    public static func combine(_ crcA: UInt32, _ crcB: UInt32, lengthB: Int) -> UInt32 {
        guard lengthB > 0 else { return crcA }
        func times(_ m: [UInt32], _ v: UInt32) -> UInt32 {
            var sum: UInt32 = 0, v = v, i = 0
            while v != 0 { if v & 1 != 0 { sum ^= m[i] }; v >>= 1; i += 1 }
            return sum
        }
        func square(_ m: [UInt32]) -> [UInt32] { (0..<32).map { times(m, m[$0]) } }
        var odd = [UInt32](repeating: 0, count: 32)   // the operator for one zero bit
        odd[0] = 0x82F6_3B78
        for n in 1..<32 { odd[n] = 1 << (n - 1) }
        var even = square(odd)                         // two zero bits
        odd = square(even)                             // four zero bits
        var crc = crcA, len = lengthB
        repeat {                                       // apply len zero bytes to crcA
            even = square(odd)
            if len & 1 != 0 { crc = times(even, crc) }
            len >>= 1
            if len == 0 { break }
            odd = square(even)
            if len & 1 != 0 { crc = times(odd, crc) }
            len >>= 1
        } while len != 0
        return crc ^ crcB
    }
}
