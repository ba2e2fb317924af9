import Foundation

/// Locations of the repository, its sample clips and the shared fixtures, found from this file.
public enum TestPaths {
    /// The repository root (the folder holding Package.swift).
    public static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    public static let sampleClips = repoRoot.appendingPathComponent("SampleClips")
    public static let badFixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    /// `../shared/fixtures` beside the checkout; nil when absent (tests that need it skip).
    public static let sharedFixtures: URL? = {
        let url = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }()

    public static func sample(_ name: String) -> String { sampleClips.appendingPathComponent(name).path }
    public static func bad(_ name: String) -> String { badFixtures.appendingPathComponent(name).path }

    /// Every sample clip (video files with a recorded oracle), sorted.
    public static func allSampleClips() -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        let e = fm.enumerator(at: sampleClips, includingPropertiesForKeys: nil)!
        for case let url as URL in e {
            let ext = url.pathExtension.lowercased()
            guard ["mp4", "mkv", "avi", "mov"].contains(ext) else { continue }
            let oracle = url.deletingPathExtension().appendingPathExtension("probe.json")
            if fm.fileExists(atPath: oracle.path) { out.append(url.path) }
        }
        return out.sorted()
    }

    /// Path of an executable on PATH, or nil.
    public static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs a command, returning (status, stdout, stderr).
    @discardableResult
    public static func run(_ exe: String, _ args: [String], stdin: Data? = nil, cwd: URL? = nil,
                           environment: [String: String]? = nil) throws -> (Int32, Data, String) {
        let p = Process()
        if let cwd { p.currentDirectoryURL = cwd }
        if let environment { p.environment = environment }
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if stdin != nil { p.standardInput = Pipe() } else { p.standardInput = FileHandle.nullDevice }
        try p.run()
        if let stdin, let inPipe = p.standardInput as? Pipe {
            inPipe.fileHandleForWriting.write(stdin)
            try? inPipe.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so that neither fills up and blocks the child.
        let errBox = LockedBox(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, outData, String(decoding: errBox.get(), as: UTF8.self))
    }
}

/// A tiny lock-protected box for passing values between threads in tests.
public final class LockedBox<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    public init(_ v: T) { value = v }
    public func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    public func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    public func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
}

extension TestPaths {
    /// The `fleetprep` executable built beside the test bundle.
    public static var fleetprepExecutable: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("fleetprep").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return dir.appendingPathComponent("fleetprep").path
    }

    /// Runs the built `fleetprep` with `args` from the repository root.
    public static func fleetprep(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let (s, o, e) = try run(fleetprepExecutable, args, cwd: repoRoot)
        return (s, String(decoding: o, as: UTF8.self), e)
    }
}
