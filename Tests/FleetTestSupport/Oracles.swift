import Foundation

/// ffprobe's recorded facts for a sample clip (NAME.probe.json beside the clip).
public struct ProbeOracle {
    public struct Stream {
        public let index: Int
        public let codecType: String
        public let codecName: String
        public let profile: String?
        public let width: Int?
        public let height: Int?
        public let pixFmt: String?
        public let avgFrameRate: String
        public let timeBase: String
        public let rotation: Double?
        public let colorSpace: String?
        public let colorRange: String?
    }
    public struct Frame {
        public let pts: Int64?
        public let time: Double?
        public let keyFrame: Bool
    }
    public let formatName: String
    /// Streams in the container (the recorded `streams` list holds the video streams only).
    public let streamCount: Int
    public let streams: [Stream]
    public let frames: [Frame]

    public init(clip: String) throws {
        let url = URL(fileURLWithPath: clip).deletingPathExtension().appendingPathExtension("probe.json")
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let format = obj["format"] as! [String: Any]
        formatName = format["format_name"] as! String
        streamCount = format["nb_streams"] as! Int
        streams = (obj["streams"] as! [[String: Any]]).map { s in
            var rotation: Double? = nil
            for sd in (s["side_data_list"] as? [[String: Any]] ?? []) {
                if let r = sd["rotation"] as? NSNumber { rotation = r.doubleValue }
            }
            return Stream(index: s["index"] as! Int, codecType: s["codec_type"] as! String,
                          codecName: s["codec_name"] as? String ?? "unknown", profile: s["profile"] as? String,
                          width: s["width"] as? Int, height: s["height"] as? Int, pixFmt: s["pix_fmt"] as? String,
                          avgFrameRate: s["avg_frame_rate"] as? String ?? "0/0", timeBase: s["time_base"] as? String ?? "0/0",
                          rotation: rotation, colorSpace: s["color_space"] as? String, colorRange: s["color_range"] as? String)
        }
        frames = (obj["frames"] as? [[String: Any]] ?? []).map { f in
            let pts = (f["best_effort_timestamp"] as? NSNumber)?.int64Value
            let t = (f["best_effort_timestamp_time"] as? String).flatMap(Double.init)
            return Frame(pts: pts, time: t, keyFrame: (f["key_frame"] as? Int) == 1)
        }
    }

    public var videoStream: Stream { streams.first { $0.codecType == "video" }! }
}

/// The md5 column of an `ffmpeg -f framemd5` file (NAME.framemd5 beside the clip), in frame order.
public func frameMD5Oracle(clip: String) throws -> [String] {
    let url = URL(fileURLWithPath: clip).deletingPathExtension().appendingPathExtension("framemd5")
    return try parseFrameMD5(String(contentsOf: url, encoding: .utf8))
}

public func parseFrameMD5(_ text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
        if line.hasPrefix("#") { return nil }
        let cols = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return cols.count >= 6 ? cols[5] : nil
    }
}
