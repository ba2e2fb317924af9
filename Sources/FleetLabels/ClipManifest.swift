import Foundation

/// The contents of a group's `clip.json` (or a lone video's `<stem>.json`). All keys optional;
/// unknown keys are ignored so that newer writers do not break older readers.
///
///     { "event_id": "event_0001",
///       "cameras": ["main", "narrow", ...],        // order = camera order in samples
///       "master": "main",                          // camera whose frames are the sample ticks
///       "offsets": {"rear": 0.004},                // seconds added to that camera's frame times
///       "units": {"speed": "m/s", "gear": "categorical"},
///       "categorical": ["gear"] }                  // signals held, not interpolated
public struct ClipManifest: Sendable, Codable, Hashable {
    public var eventID: String?
    public var cameras: [CameraName]?
    public var master: CameraName?
    /// Per-camera offset in seconds: clip time = decoded frame time + offset (missing = 0).
    public var offsets: [CameraName: Double]
    public var units: [String: String]
    public var categorical: [String]
    /// Path it was read from (nil for a manifest built in code).
    public var file: String?

    public init(eventID: String? = nil, cameras: [CameraName]? = nil, master: CameraName? = nil,
                offsets: [CameraName: Double] = [:], units: [String: String] = [:],
                categorical: [String] = [], file: String? = nil) {
        self.eventID = eventID
        self.cameras = cameras
        self.master = master
        self.offsets = offsets
        self.units = units
        self.categorical = categorical
        self.file = file
    }

    /// Reads and validates a manifest. Camera names (in `cameras`, `master`, `offsets`) must be
    /// in `knownCameras`; `master` and `offsets` keys must also be listed in `cameras` when
    /// that list is present. Errors name the file and the line of the offending value.
    public static func load(path: String, knownCameras: [CameraName],
                            maxBytes: Int = LabelOptions.defaultMaxSidecarBytes) throws -> ClipManifest {
        let bytes = try SidecarIO.read(path, limit: maxBytes)
        return try parse(bytes, file: path, knownCameras: knownCameras)
    }

    static func parse(_ bytes: [UInt8], file: String, knownCameras: [CameraName]) throws -> ClipManifest {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw LabelError(.invalidJSON, file: file, line: jsonErrorLine(text, bytes), "invalid JSON: \(Terminal.excerpt(text, limit: 160))")
        }
        guard let dict = object as? [String: Any] else {
            throw LabelError(.invalidJSON, file: file, line: 1, "top level must be a JSON object")
        }
        func bad(_ key: String, _ what: String) -> LabelError {
            LabelError(.badValue, file: file, line: lineOfKey(key, in: bytes), "\"\(key)\" must be \(what)")
        }
        var m = ClipManifest(file: file)
        if let v = dict["event_id"] {
            if let s = v as? String { m.eventID = s } else if let n = v as? NSNumber { m.eventID = n.stringValue }
            else { throw bad("event_id", "a string") }
        }
        if let v = dict["cameras"] {
            guard let list = v as? [Any], let names = list as? [String] else { throw bad("cameras", "an array of strings") }
            var seen = Set<String>()
            for name in names {
                let line = lineOfString(name, afterKey: "cameras", in: bytes)
                guard knownCameras.contains(CameraName(name)) else {
                    throw LabelError(.unknownCamera, file: file, line: line,
                                     "unknown camera \"\(Terminal.excerpt(name))\" (known: \(knownCameras.joined(separator: ", ")))")
                }
                guard seen.insert(name).inserted else {
                    throw LabelError(.duplicateCamera, file: file, line: line, "camera \"\(Terminal.excerpt(name))\" listed twice")
                }
            }
            m.cameras = names.map { CameraName($0) }
        }
        func checkCamera(_ name: String, key: String) throws {
            let line = lineOfString(name, afterKey: key, in: bytes)
            if !knownCameras.contains(CameraName(name)) {
                throw LabelError(.unknownCamera, file: file, line: line,
                                 "unknown camera \"\(Terminal.excerpt(name))\" in \"\(key)\" (known: \(knownCameras.joined(separator: ", ")))")
            }
            if let cams = m.cameras, !cams.contains(CameraName(name)) {
                throw LabelError(.unknownCamera, file: file, line: line,
                                 "camera \"\(Terminal.excerpt(name))\" in \"\(key)\" is not in \"cameras\"")
            }
        }
        if let v = dict["master"] {
            guard let s = v as? String else { throw bad("master", "a string") }
            try checkCamera(s, key: "master")
            m.master = CameraName(s)
        }
        if let v = dict["offsets"] {
            guard let d = v as? [String: Any] else { throw bad("offsets", "an object of camera: seconds") }
            for (name, value) in d.sorted(by: { $0.key < $1.key }) {
                try checkCamera(name, key: "offsets")
                guard let seconds = jsonNumber(value), seconds.isFinite else {
                    throw LabelError(.badValue, file: file, line: lineOfString(name, afterKey: "offsets", in: bytes),
                                     "offset of \"\(Terminal.excerpt(name))\" must be a number of seconds")
                }
                m.offsets[CameraName(name)] = seconds
            }
        }
        if let v = dict["units"] {
            guard let d = v as? [String: Any], let units = d as? [String: String] else {
                throw bad("units", "an object of signal: unit string")
            }
            m.units = units
        }
        if let v = dict["categorical"] {
            guard let list = v as? [Any], let names = list as? [String] else { throw bad("categorical", "an array of strings") }
            m.categorical = names
        }
        return m
    }

    // MARK: locating lines in the raw text (JSONSerialization does not report them)

    /// Line of `"key"` used as a key (followed by `:`), or nil.
    static func lineOfKey(_ key: String, in bytes: [UInt8]) -> Int? {
        guard let at = find(quoted: key, in: bytes, from: 0, asKey: true) else { return nil }
        return SidecarIO.lineNumber(of: at, in: bytes)
    }

    /// Line of the string value `"value"` first appearing after the key `"key"`, or the key's
    /// line, or nil.
    static func lineOfString(_ value: String, afterKey key: String, in bytes: [UInt8]) -> Int? {
        guard let keyAt = find(quoted: key, in: bytes, from: 0, asKey: true) else { return nil }
        let at = find(quoted: value, in: bytes, from: keyAt + key.utf8.count + 2, asKey: false) ?? keyAt
        return SidecarIO.lineNumber(of: at, in: bytes)
    }

    private static func find(quoted s: String, in bytes: [UInt8], from: Int, asKey: Bool) -> Int? {
        let needle = Array("\"\(s)\"".utf8)
        guard needle.count <= bytes.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0], Array(bytes[i..<(i + needle.count)]) == needle {
                if !asKey { return i }
                var j = i + needle.count
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: ":") { return i }
            }
            i += 1
        }
        return nil
    }

    /// Foundation reports "... around line L, column C" or "... around character N".
    static func jsonErrorLine(_ text: String, _ bytes: [UInt8]) -> Int? {
        func number(after marker: String) -> Int? {
            guard let r = text.range(of: marker) else { return nil }
            let digits = text[r.upperBound...].prefix(while: { $0.isNumber })
            return Int(digits)
        }
        if let line = number(after: "line ") { return line }
        if let offset = number(after: "character ") { return SidecarIO.lineNumber(of: offset, in: bytes) }
        return nil
    }
}
