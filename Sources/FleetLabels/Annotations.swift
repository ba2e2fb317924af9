import Foundation

/// One line of `annotations.jsonl`: where it belongs and the object itself.
public struct AnnotationRecord: Sendable, Hashable, Codable {
    /// What an annotation is matched on: a frame index or a time.
    public enum Key: Sendable, Hashable, Codable {
        /// Frame index of the master camera (0-based, in decode order).
        case frame(Int)
        /// Time in seconds on the clip clock.
        case time(Double)
    }
    public var key: Key
    /// The whole line's JSON object, compacted (insignificant whitespace removed; keys, key
    /// order and number spellings exactly as written).
    public var annotation: Annotation
    /// 1-based line in the file.
    public var line: Int
}

/// The annotations of one clip group, in file order.
///
/// Format: JSON Lines, one object per line; blank lines skipped. Each object carries either
/// `"frame": <integer >= 0>` (master frame index) or `"t": <seconds>` (clip clock; matched to the
/// nearest master frame within half a frame period); when both are present `frame` wins. The
/// rest of the object (boxes, lane points, anything) is passed through untouched. Two lines that
/// land on the same frame are an error (`duplicateAnnotation`) rather than a silent choice.
public struct Annotations: Sendable, Hashable, Codable {
    public var file: String
    public var records: [AnnotationRecord]

    public init(file: String, records: [AnnotationRecord]) {
        self.file = file
        self.records = records
    }

    public static func load(path: String, maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> Annotations {
        try parse(SidecarIO.read(path, limit: maxBytes), file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> Annotations {
        var records: [AnnotationRecord] = []
        try SidecarIO.forEachLine(bytes) { line, range in
            let r = SidecarIO.trim(bytes, range)
            if r.isEmpty { return }
            // One parse gives the annotation and the keys it is placed by.
            let annotation: Annotation, dict: [String: JSONValue]
            do throws(Annotation.ValidationError) { (annotation, dict) = try Annotation.parsing(utf8: bytes[r]) } catch {
                throw LabelError(.invalidJSON, file: file, line: line, error.kind == .notAnObject
                                 ? "each line must be a JSON object" : Terminal.excerpt(error.message, limit: 160))
            }
            let key: AnnotationRecord.Key
            if let v = dict["frame"] {
                guard case .number(let d) = v, d >= 0, d == d.rounded(), d < 1e15 else {
                    throw LabelError(.badValue, file: file, line: line, "\"frame\" must be an integer >= 0")
                }
                key = .frame(Int(d))
            } else if let v = dict["t"] {
                guard case .number(let d) = v, d.isFinite else {
                    throw LabelError(.badValue, file: file, line: line, "\"t\" must be a number of seconds")
                }
                key = .time(d)
            } else {
                throw LabelError(.badValue, file: file, line: line, "object has neither \"frame\" nor \"t\"")
            }
            records.append(AnnotationRecord(key: key, annotation: annotation, line: line))
        }
        return Annotations(file: file, records: records)
    }

    /// Places every record on a frame: `frameTimes` are the master's frame times on the clip
    /// clock (sorted), `period` its nominal frame period. Returns one entry per frame (nil = no
    /// annotation) and the number of records that matched no frame (index out of range, or no
    /// frame within `period / 2` of `t`).
    public func match(frameTimes: [Double], period: Double) throws -> (perFrame: [Annotation?], unmatched: Int) {
        var perFrame = [Annotation?](repeating: nil, count: frameTimes.count)
        var lineOf = [Int](repeating: 0, count: frameTimes.count)
        var unmatched = 0
        for record in records {
            let frame: Int?
            switch record.key {
            case .frame(let n):
                frame = n < frameTimes.count ? n : nil
            case .time(let t):
                frame = Self.nearest(t, in: frameTimes, within: period / 2)
            }
            guard let f = frame else { unmatched += 1; continue }
            if perFrame[f] != nil {
                throw LabelError(.duplicateAnnotation, file: file, line: record.line,
                                 "frame \(f) already has the annotation on line \(lineOf[f])")
            }
            perFrame[f] = record.annotation
            lineOf[f] = record.line
        }
        return (perFrame, unmatched)
    }

    /// Index of the frame nearest `t` (ties: the earlier frame) if within `tolerance`.
    static func nearest(_ t: Double, in times: [Double], within tolerance: Double) -> Int? {
        guard !times.isEmpty else { return nil }
        var lo = 0, hi = times.count           // first index with times[i] >= t
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        var best: Int?
        var bestDelta = Double.infinity
        for i in [lo - 1, lo] where i >= 0 && i < times.count {
            let d = abs(times[i] - t)
            if d < bestDelta { best = i; bestDelta = d }
        }
        return bestDelta <= tolerance ? best : nil
    }
}
