import Foundation

/// One sample's annotation: a JSON object, checked, held as its compact text exactly as written
/// (insignificant whitespace removed; keys, key order and number spellings kept), so that it
/// passes from `annotations.jsonl` into shard records byte for byte. `value` parses it.
///
/// An `Annotation` is made only by `init(validating:)` (FleetLabels' annotations parser uses
/// it), so a value of this type is always one JSON object. "No annotation" is `nil` of
/// `Annotation?`; the record formats write it as `null` (FleetShards).
public struct Annotation: Sendable, Hashable, CustomStringConvertible, Codable {
    /// Why a text is not an annotation.
    public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// Not JSON (or a JSON number outside binary64's range).
            case invalidJSON
            /// JSON, but not an object.
            case notAnObject
        }
        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    /// The object's compact JSON text.
    public let json: String

    /// The JSON object in `text`, compacted. Throws unless `text` is one JSON object.
    public init(validating text: String) throws(ValidationError) {
        try self.init(validatingUTF8: Array(text.utf8))
    }

    /// The JSON object in the UTF-8 `bytes`, compacted. Throws unless they are one JSON object.
    public init<C: Collection>(validatingUTF8 bytes: C) throws(ValidationError) where C.Element == UInt8 {
        self = try Self.parsing(utf8: bytes).annotation
    }

    /// The annotation and the object it holds, from one parse (a reader that also looks inside,
    /// as the annotations.jsonl parser does for `frame` and `t`, need not parse again).
    public static func parsing<C: Collection>(utf8 bytes: C) throws(ValidationError) -> (annotation: Annotation, object: [String: JSONValue])
    where C.Element == UInt8 {
        // Parsed as written: whitespace between tokens counts (`{"a":1 2}` is not JSON).
        let parsed: JSONValue
        do {
            parsed = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            // JSONDecoder says only "not valid JSON"; on this failure path, JSONSerialization
            // says where ("Garbage at end around line 1, column 19.").
            var detail = "\(error)"
            do { _ = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) } catch let e as NSError {
                detail = e.userInfo[NSDebugDescriptionErrorKey] as? String ?? detail
            } catch {}
            throw ValidationError(kind: .invalidJSON, message: "not valid JSON (\(detail))")
        }
        guard case .object(let object) = parsed else {
            throw ValidationError(kind: .notAnObject, message: "not a JSON object")
        }
        return (Annotation(json: compact(bytes)), object)
    }

    private init(json: String) { self.json = json }

    /// The object, parsed (key order and number spellings are not kept: `json` has them).
    public var value: JSONValue {
        // The initializer parsed this very text, so the fallback is never taken.
        (try? JSONValue(parsing: json)) ?? .object([:])
    }

    public var description: String { json }

    /// Codes as a JSON string holding the object's text (lossless; decoding validates it).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do throws(ValidationError) { try self.init(validating: text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "annotation \(error.message)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(json)
    }

    /// `bytes` without whitespace outside strings.
    private static func compact<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                out.append(b)
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else {
                switch b {
                case 0x20, 0x09, 0x0A, 0x0D: continue
                case UInt8(ascii: "\""): inString = true; out.append(b)
                default: out.append(b)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
