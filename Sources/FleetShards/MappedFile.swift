import Foundation

/// A read-only memory map of a whole file, unmapped when the object goes away. Record views
/// handed out by readers point into it.
///
/// `@unchecked Sendable` without a lock: every property is set in `init` and never changed, and
/// the map is read-only (`PROT_READ`), so any thread may read it.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    init(path: String) throws(ShardError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ShardError(.io, file: path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ShardError(.io, file: path, String(cString: strerror(errno))) }
        length = Int(st.st_size)
        if length == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw ShardError(.io, file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: length)
    }

    deinit { if let base { munmap(base, length) } }

    func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}

/// Writes to a file descriptor: whole buffers, zero padding, positioned writes for headers.
final class RawFile {
    let path: String
    let fd: Int32
    private(set) var offset: Int64 = 0

    init(creating path: String) throws(ShardError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ShardError(.io, file: path, "cannot create: \(String(cString: strerror(errno)))") }
    }

    func write(_ buf: UnsafeRawBufferPointer) throws(ShardError) {
        guard var p = buf.baseAddress else { return }
        var n = buf.count
        while n > 0 {
            let w = Foundation.write(fd, p, n)
            if w < 0 {
                if errno == EINTR { continue }
                throw ShardError(.io, file: path, "write failed: \(String(cString: strerror(errno)))")
            }
            p += w
            n -= w
            offset += Int64(w)
        }
    }

    func write(_ bytes: [UInt8]) throws(ShardError) {
        var failure: ShardError? = nil
        bytes.withUnsafeBytes { b in
            do { try write(b) } catch let e as ShardError { failure = e } catch {}
        }
        if let failure { throw failure }
    }

    private static let zeros = [UInt8](repeating: 0, count: 65536)

    func pad(to boundary: Int64) throws(ShardError) {
        var need = Int((boundary - offset % boundary) % boundary)
        while need > 0 {
            let n = Swift.min(need, Self.zeros.count)
            try write(Array(Self.zeros[0..<n]))
            need -= n
        }
    }

    func pwrite(_ bytes: [UInt8], at position: Int64) throws(ShardError) {
        let r = bytes.withUnsafeBytes { Foundation.pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
        guard r == bytes.count else { throw ShardError(.io, file: path, "write failed: \(String(cString: strerror(errno)))") }
    }

    func sync() throws(ShardError) {
        guard fsync(fd) == 0 else { throw ShardError(.io, file: path, "fsync failed: \(String(cString: strerror(errno)))") }
    }

    func close() { _ = Foundation.close(fd) }
}

/// Little-endian byte building.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func raw(_ s: String) { bytes += Array(s.utf8) }
}

func alignUp(_ v: Int64, _ a: Int64) -> Int64 { (v + a - 1) / a * a }

/// Makes a rename in directory `path` durable (fsync of the directory; best effort).
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 { fsync(fd); close(fd) }
}
