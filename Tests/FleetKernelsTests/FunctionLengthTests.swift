import Foundation
import Testing
import FleetTestSupport

/// No function, initializer or subscript over 60 lines in the pipeline modules (issue 26).
/// Lengths are brace-matched from the declaration line to its closing brace (string literals and
/// `//` comments skipped), as `scripts/funclen.py` counts them.
@Suite struct FunctionLengthTests {
    static let limit = 60

    /// Declarations longer than `limit` lines under `Sources/<module>`: "File.swift:LINE name (N lines)".
    static func offenders(_ module: String) throws -> [String] {
        let root = TestPaths.repoRoot.appendingPathComponent("Sources/\(module)")
        let decl = try Regex(#"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|internal|fileprivate|static|final|override|mutating|nonisolated|convenience|required|borrowing|consuming|@inlinable|@usableFromInline|@discardableResult|@inline\(__always\))\s+)*(func\s+[^\s(<]+|init[?!]?|deinit|subscript)\b"#)
        var out: [String] = []
        let files = (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".swift") }
        for file in files.sorted() {
            let lines = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8).components(separatedBy: "\n")
            for (i, line) in lines.enumerated() {
                guard let m = line.firstMatch(of: decl) else { continue }
                var depth = 0, started = false, j = i
                while j < lines.count {
                    let code = lines[j].replacing(try Regex(#""(?:\\.|[^"\\])*""#), with: "\"\"")
                        .components(separatedBy: "//")[0]
                    for ch in code {
                        if ch == "{" { depth += 1; started = true } else if ch == "}" { depth -= 1 }
                    }
                    if started && depth <= 0 { break }
                    if !started && j > i + 8 { break }
                    j += 1
                }
                let n = j - i + 1
                if started && n > limit { out.append("\(module)/\(file):\(i + 1) \(line[m.range].trimmingCharacters(in: .whitespaces)) (\(n) lines)") }
            }
        }
        return out
    }

    @Test(arguments: ["FleetPrep", "FleetMedia", "FleetKernels", "FleetShards"])
    func noLongFunctions(module: String) throws {
        let long = try Self.offenders(module)
        #expect(long.isEmpty, "over \(Self.limit) lines: \(long.joined(separator: "; "))")
    }
}
