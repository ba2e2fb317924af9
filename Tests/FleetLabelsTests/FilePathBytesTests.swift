import FleetTestSupport
import Foundation
import Testing
@testable import FleetLabels

/// `FilePathBytes`, the codec that holds file names that are not UTF-8 in a String (issue 25,
/// item 6): hand-computed cases from the UTF-8 definition (Unicode table 3-7), a property test on
/// random byte names (every name comes back byte for byte, no two names share a string), and the
/// real file system (a name made with raw bytes is listed, stat'ed and resolved by its string).
@Suite struct FilePathBytesTests {
    static func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    @Test func invalidBytesBecomeTheirEscapeScalars() {
        // "caf\xe9.mp4": Latin-1 é, not UTF-8 (E9 must be followed by two continuation bytes).
        let s = FilePathBytes.string(Array("caf".utf8) + [0xE9] + Array(".mp4".utf8))
        #expect(Self.scalars(s) == [0x63, 0x61, 0x66, 0x10FFE9, 0x2E, 0x6D, 0x70, 0x34])
        #expect(FilePathBytes.display(s) == "caf\\xe9.mp4")
        #expect(FilePathBytes.bytes(s) == Array("caf".utf8) + [0xE9] + Array(".mp4".utf8))
        #expect(FilePathBytes.hasEscapes(s))
        // UTF-8 names are the plain strings, unchanged.
        let utf8 = FilePathBytes.string(Array("café 東京 🚗.mp4".utf8))
        #expect(utf8 == "café 東京 🚗.mp4" && !FilePathBytes.hasEscapes(utf8) && FilePathBytes.display(utf8) == utf8)
        // Ill-formed sequences, byte by byte: an overlong "/" (C0 AF), a surrogate (ED A0 80),
        // above U+10FFFF (F4 90 80 80), F5, a lone continuation byte, a sequence cut short (E2 82).
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5], [0x80], [0xE2, 0x82]] {
            let t = FilePathBytes.string(bad)
            #expect(Self.scalars(t) == bad.map { 0x10FF00 + UInt32($0) }, "\(bad)")
            #expect(FilePathBytes.bytes(t) == bad)
        }
        // A cut-short sequence before a valid one: E2 82 then "€" (E2 82 AC).
        #expect(Self.scalars(FilePathBytes.string([0xE2, 0x82, 0xE2, 0x82, 0xAC])) == [0x10FFE2, 0x10FF82, 0x20AC])
    }

    @Test func aRealNameHoldingTheEscapeScalarsIsEscapedToo() {
        // U+10FF80 and U+10FFFF written as real UTF-8 (F4 8F BE 80, F4 8F BF BF): each byte is
        // escaped, so the string differs from that of the raw bytes 0x80 and 0xFF.
        let real: [UInt8] = [0x61, 0xF4, 0x8F, 0xBE, 0x80, 0xF4, 0x8F, 0xBF, 0xBF]
        let s = FilePathBytes.string(real)
        #expect(Self.scalars(s) == [0x61, 0x10FFF4, 0x10FF8F, 0x10FFBE, 0x10FF80, 0x10FFF4, 0x10FF8F, 0x10FFBF, 0x10FFBF])
        #expect(FilePathBytes.bytes(s) == real)
        #expect(FilePathBytes.display(s) == "a\\xf4\\x8f\\xbe\\x80\\xf4\\x8f\\xbf\\xbf")
        #expect(Self.scalars(FilePathBytes.string([0x61, 0x80, 0xFF])) == [0x61, 0x10FF80, 0x10FFFF])
        // The scalar just below the range (U+10FF7F, F4 8F BD BF) is an ordinary scalar.
        #expect(Self.scalars(FilePathBytes.string([0xF4, 0x8F, 0xBD, 0xBF])) == [0x10FF7F])
    }

    /// Random byte names: every one comes back byte for byte, and no two share a string.
    @Test func randomByteNamesRoundTrip() {
        var rng = SplitMix64(seed: 25)
        // Pieces a name is made of: ASCII, any byte, valid 2-4 byte sequences, the escape scalars'
        // own UTF-8 (F4 8F BE/BF xx), and prefixes of those cut short.
        let pieces: [[UInt8]] = [[0x61], [0x2E], [0x2F], [0xC3, 0xA9], [0xE6, 0x9D, 0xB1], [0xF0, 0x9F, 0x9A, 0x97],
                                 [0xF4, 0x8F, 0xBE, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x8F, 0xBE], [0xF4, 0x8F], [0xF4],
                                 [0xED, 0xA0, 0x80], [0xC0], [0xFF], [0xFE], [0x80], [0xBF]]
        var seen: [[UInt32]: [UInt8]] = [:]
        for _ in 0..<20_000 {
            var name: [UInt8] = []
            for _ in 0..<Int(rng.next() % 12) {
                if rng.next() % 3 == 0 { name.append(UInt8(truncatingIfNeeded: rng.next() % 255 + 1)) }   // any byte but NUL
                else { name += pieces[Int(rng.next() % UInt64(pieces.count))] }
            }
            let s = FilePathBytes.string(name)
            #expect(FilePathBytes.bytes(s) == name, "\(name)")
            // Valid UTF-8 without the escape range decodes as Swift's own decoder does.
            if let plain = String(validating: name, as: UTF8.self),
               !plain.unicodeScalars.contains(where: { FilePathBytes.escapes.contains($0.value) }) {
                #expect(Self.scalars(s) == Self.scalars(plain), "\(name)")
            }
            let key = Self.scalars(s)
            if let other = seen[key] { #expect(other == name, "\(other) and \(name) share a string") }
            seen[key] = name
            // The C string handed to the system is the name's bytes.
            let c = FilePathBytes.withFileSystemRepresentation(s) { p in Array(UnsafeBufferPointer(start: p, count: strlen(p))).map { UInt8(bitPattern: $0) } }
            #expect(c == name)
        }
        #expect(seen.count > 10_000)
    }

    @Test func aPathHoldingNULNamesNoFile() {
        let c = FilePathBytes.withFileSystemRepresentation("/etc/passwd\u{0}.mp4") { strlen($0) }
        #expect(c == 0)
        #expect(FilePathBytes.stat("/etc/passwd\u{0}.mp4") == nil)
    }

    @Test func theFileSystemListsAndOpensRawNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fpb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let names: [[UInt8]] = [Array("caf".utf8) + [0xE9], [0x65, 0x76, 0xFF], [0xF4, 0x8F, 0xBE, 0x80], Array("plain".utf8)]
        for n in names {
            let path = Array(dir.path.utf8) + [0x2F] + n + [0]
            let fd = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
            #expect(fd >= 0)
            _ = n.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }   // its own name as contents
            close(fd)
        }
        let listed = try FilePathBytes.names(inDirectory: dir.path)
        #expect(Set(listed.map(FilePathBytes.bytes)) == Set(names))
        for s in listed {
            let path = dir.path + "/" + s
            let st = try #require(FilePathBytes.stat(path))
            #expect(Int(st.st_size) == FilePathBytes.bytes(s).count)
            let fd = FilePathBytes.open(path, O_RDONLY)
            #expect(fd >= 0)
            var buf = [UInt8](repeating: 0, count: 16)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
            close(fd)
            #expect(Array(buf.prefix(max(n, 0))) == FilePathBytes.bytes(s))
            let resolved = try #require(FilePathBytes.realpath(path))
            #expect(resolved.hasSuffix("/" + s))
        }
    }

    @Test func terminalLinesShowTheBytesEscapedAndControlsToo() {
        let name = FilePathBytes.string(Array("t\u{1b}[2J".utf8) + [0xFF] + Array(".mp4".utf8))
        #expect(Terminal.escape(name) == "t\\e[2J\\xff.mp4")
        #expect(Terminal.escape("ok\u{1b}]0;x\u{07}") == "ok\\e]0;x\\u{7}")
    }

}
