import FleetShards
import Foundation

/// How a work unit spends the cores `IngestEngine` gives it (the cores no other task is using or
/// waiting for, itself included).
///
/// - A unit of several cameras runs them on `lanes` threads, camera `c` on lane `c % lanes`, each
///   decoder with `--decoder-threads` threads: the cameras of a group that cannot be split at key
///   frames (one key frame per clip, elementary streams) decode side by side, as separate
///   processes over separate files would.
/// - A one-camera unit gives its decoder two FFmpeg frame threads per core, so that a frame is
///   still decoding while a frame thread waits for its reference frame's rows (measured on
///   2 cores, 1280x960 HEVC, one key frame: 4 threads 9% faster than 3, 3 faster than 2), and
///   `CameraStream` decodes ahead on a thread of its own (`DecodeAhead`) while the unit's
///   thread transforms and writes.
/// - `--decoder-threads 0` (FFmpeg's choice) is left alone, on one lane.
struct UnitThreads: Equatable {
    /// Threads that decode and transform the unit's cameras (1: the unit's own thread only).
    let lanes: Int
    /// FFmpeg threads per decoder.
    let decoderThreads: Int
}

extension UnitThreads {
    /// The rule for a unit of `cameras` cameras on `cores` cores; `base`: `--decoder-threads`.
    init(cameras: Int, cores: Int, base: Int) {
        guard base > 0, cores > 1 else {
            lanes = 1
            decoderThreads = base
            return
        }
        if cameras > 1 {
            lanes = min(cameras, cores)
            decoderThreads = max(base, cores / lanes)
        } else {
            lanes = 1
            decoderThreads = max(base, 2 * cores)
        }
    }
}

/// Fills the sample buffers of one work unit on several threads: lane 0 is the caller's thread,
/// lanes 1… are threads started here. The caller publishes buffers (a few samples ahead, so that
/// a lane that finishes a sample early goes on to the next), fills its own cameras, and waits for
/// the other lanes to finish each sample before it emits it, in order.
///
/// A lane that fails stops there; the sample the caller waits for reports the failure of the
/// earliest (sample, camera) that failed, as one thread going camera by camera would. Dropping
/// out of `fill` early (an error, cancellation) must be followed by `stop()`, which joins every
/// lane; each `CameraStream` is used by one lane only, and by the caller again after `stop()`.
///
/// `@unchecked Sendable`: `state` (an NSCondition: lanes wait on it for buffers, the caller for
/// lanes) guards `buffers`, `finished`, `decoded`, `failures` and `stopped`; the streams are each
/// touched by one thread at a time as above, the rest is immutable.
final class CameraLanes: @unchecked Sendable {
    private let streams: [CameraStream]
    private let lanes: Int
    private let plan: GroupPlan
    private let range: Range<Int>
    private let cameraBytes: Int
    private let state = NSCondition()
    private var buffers: [Int: RecordBuffer] = [:]
    private var finished: [Int: Int] = [:]
    private var decoded: [Int: Int] = [:]
    private var failures: [(sample: Int, camera: Int, error: Error)] = []
    private var stopped = false
    private let joined = DispatchGroup()

    init(streams: [CameraStream], lanes: Int, plan: GroupPlan, range: Range<Int>) {
        self.streams = streams
        self.lanes = lanes
        self.plan = plan
        self.range = range
        cameraBytes = plan.cameraBytes
        for lane in 1..<lanes {
            joined.enter()
            Thread.detachNewThread { [self] in
                defer { joined.leave() }
                run(lane: lane)
            }
        }
    }

    /// Makes `buffer` sample `k`'s: lanes may start filling it.
    func publish(_ k: Int, _ buffer: RecordBuffer) {
        state.lock(); buffers[k] = buffer; state.broadcast(); state.unlock()
    }

    /// Fills lane 0's cameras of sample `k` and waits for the other lanes; returns its buffer
    /// (the caller's again) and the frames decoded for it, or throws the earliest failure at or
    /// before `k` (the buffer stays published: `stop()` returns it).
    func fill(_ k: Int) throws -> (RecordBuffer, Int) {
        state.lock()
        let buffer = buffers[k]!
        state.unlock()
        let own = fill(lane: 0, sample: k, buffer: buffer)
        state.lock()
        defer { state.unlock() }
        if let own { failures.append((k, own.camera, own.error)) }
        while finished[k, default: 0] < lanes - 1 && !failures.contains(where: { $0.sample <= k }) { state.wait() }
        if let f = failures.filter({ $0.sample <= k }).min(by: { ($0.sample, $0.camera) < ($1.sample, $1.camera) }) { throw f.error }
        buffers[k] = nil
        finished[k] = nil
        return (buffer, decoded.removeValue(forKey: k) ?? 0)
    }

    /// Stops and joins the lanes; returns the buffers published and not filled (to give back).
    func stop() -> [RecordBuffer] {
        state.lock(); stopped = true; state.broadcast(); state.unlock()
        joined.wait()
        state.lock(); defer { state.unlock() }
        let left = Array(buffers.values)
        buffers = [:]
        return left
    }

    private func run(lane: Int) {
        for k in range {
            state.lock()
            while !stopped && buffers[k] == nil { state.wait() }
            let buffer = buffers[k]
            state.unlock()
            guard let buffer else { return }
            if let f = fill(lane: lane, sample: k, buffer: buffer) {
                state.lock(); failures.append((k, f.camera, f.error)); state.broadcast(); state.unlock()
                return
            }
            state.lock(); finished[k, default: 0] += 1; state.broadcast(); state.unlock()
        }
    }

    /// Writes this lane's cameras of sample `k` into `buffer`; adds the frames decoded to
    /// `decoded[k]`; returns the first failure.
    private func fill(lane: Int, sample k: Int, buffer: RecordBuffer) -> (camera: Int, error: Error)? {
        let sample = plan.labels.samples[plan.kept[k]]
        var frames = 0
        defer { state.lock(); decoded[k, default: 0] += frames; state.unlock() }
        for c in stride(from: lane, to: streams.count, by: lanes) {
            let slice = buffer.slice(offset: c * cameraBytes, count: cameraBytes)
            guard let ref = sample.cameras[c] else {
                slice.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            let before = streams[c].framesDecoded
            do { try streams[c].write(frame: ref.index, into: slice) } catch { return (c, error) }
            frames += streams[c].framesDecoded - before
        }
        return nil
    }
}
