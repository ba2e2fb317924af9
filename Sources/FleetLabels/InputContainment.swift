import Foundation

/// What discovery may enter below one input root (docs/ingest.md, "Untrusted input"):
///
/// - A symlink whose target resolves outside the root it was found under (`link -> ../secret`,
///   `loop -> ..`, a sidecar linked to `/etc/passwd`) is not followed: one `discover` problem each
///   (`outsideInput`), and discovery goes on. `LabelOptions.followSymlinks` allows them. A link
///   that stays inside the root is followed (a directory reached twice is listed once).
/// - Directories are searched at most `maxDepth` levels below the root; a deeper one is one
///   problem, not a silent skip.
/// - Cancellation (`LabelOptions.cancellation`) stops the walk at the next directory.
struct InputContainment {
    /// The root, resolved (no symlinks, no `..`).
    let root: String
    /// The input as given (directory depth is counted below it).
    let base: String
    let follow: Bool
    let cancellation: CancellationFlag
    static let maxDepth = 256

    /// `input`: a directory (the root itself) or a file (its directory is the root).
    init(input: String, isDirectory: Bool, options: LabelOptions) {
        let dir = isDirectory ? input : (input as NSString).deletingLastPathComponent
        base = dir
        root = Self.resolved(dir.isEmpty ? "." : dir) ?? URL(fileURLWithPath: dir.isEmpty ? "." : dir).standardizedFileURL.path
        follow = options.followSymlinks
        cancellation = options.cancellation
    }

    /// `path` resolved by its bytes (`FilePathBytes`), or nil when it does not resolve.
    static func resolved(_ path: String) -> String? {
        FilePathBytes.realpath(path)
    }

    func contains(_ resolved: String) -> Bool {
        resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// `entries` of directory `dir` less the symlinks that lead outside the root (each one
    /// problem), unless they may be followed.
    func filter(_ entries: [String], in dir: String, problems: inout [LabelError]) -> [String] {
        guard !follow else { return entries }
        return entries.filter { e in
            let path = dir.isEmpty ? e : (dir.hasSuffix("/") ? dir + e : dir + "/" + e)
            guard let st = FilePathBytes.lstat(path), (st.st_mode & S_IFMT) == S_IFLNK else { return true }
            // A dangling link is left to fail where it is used ("no such file").
            guard let target = Self.resolved(path) else { return true }
            if contains(target) { return true }
            problems.append(LabelError(.outsideInput, file: path,
                                       "is a symlink to \(target), outside the input \(root); not followed (--follow-symlinks follows it)"))
            return false
        }
    }

    /// `group` less its signal files that are symlinks leading outside the root (the files
    /// beside it are filtered with their directory's entries).
    func contain(_ group: ClipGroup, problems: inout [LabelError]) -> ClipGroup {
        var g = group
        g.signalFiles = g.signalFiles.filter { path in
            let dir = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
            return !filter([name], in: dir, problems: &problems).isEmpty
        }
        return g
    }

    /// Throws when `dir` is more than `maxDepth` directories below the root (counted on the path
    /// as discovery built it), or when the run is cancelled.
    func checkDepth(_ dir: String) throws {
        if cancellation.isCancelled { throw Cancelled() }
        let below = dir.utf8.count > base.utf8.count ? dir.utf8.dropFirst(base.utf8.count).split(separator: UInt8(ascii: "/")).count : 0
        if below > Self.maxDepth {
            throw LabelError(.outsideInput, file: dir, "is nested more than \(Self.maxDepth) directories below the input \(base); not searched")
        }
    }
}
