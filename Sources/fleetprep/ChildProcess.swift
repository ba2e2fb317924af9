#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// External commands for the benchmarks, started with `posix_spawn` and reaped with `wait4`, so
/// that many can run side by side (one blocking thread per slot) and each one's CPU time is its own.
enum ChildProcess {
    struct Exit {
        /// Exit status, or 128 + signal when killed by a signal.
        var status: Int32
        /// User + system CPU seconds of the child.
        var cpuSeconds: Double
        /// The last bytes it wrote to stderr (when `stderrFile` was given and it failed).
        var errorTail: String
    }

    /// Runs `executable` with `arguments`, stdin and stdout on /dev/null, stderr into `stderrFile`
    /// (or /dev/null); returns nil when it cannot be started.
    static func run(_ executable: String, _ arguments: [String], stderrFile: String? = nil) -> Exit? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let env: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; env.forEach { free($0) } }
        var pid = pid_t()
        guard posix_spawn(&pid, executable, &actions, nil, argv, env) == 0 else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { return nil }
        }
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        var tail = ""
        if exit != 0, let stderrFile, let data = FileManager.default.contents(atPath: stderrFile) {
            tail = String(decoding: data.suffix(300), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        }
        return Exit(status: exit, cpuSeconds: s(usage.ru_utime) + s(usage.ru_stime), errorTail: tail)
    }

    /// Runs `command(item)` for every item, at most `slots` at a time (a work queue of items over
    /// `slots` process slots, each slot starting the next item as soon as its previous one ends).
    /// Returns the wall-clock seconds from the first start to the last exit and the children's CPU
    /// seconds, or an error message for the first command that failed.
    static func runQueue(_ items: [String], slots: Int, stderrDirectory: URL,
                         command: @escaping @Sendable (String) -> (String, [String])) -> Swift.Result<(wall: Double, cpu: Double), QueueFailure> {
        let queue = Queue(items)
        let group = DispatchGroup()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for slot in 0..<max(1, min(slots, items.count)) {
            group.enter()
            let errFile = stderrDirectory.appendingPathComponent("slot\(slot).stderr").path
            let thread = Thread {
                defer { group.leave() }
                while let item = queue.take() {
                    let (exe, args) = command(item)
                    guard let r = run(exe, args, stderrFile: errFile) else {
                        queue.fail("cannot start \(exe)"); return
                    }
                    queue.add(cpu: r.cpuSeconds)
                    if r.status != 0 {
                        queue.fail("\((exe as NSString).lastPathComponent) exited with \(r.status) on \(item): \(r.errorTail)"); return
                    }
                }
            }
            thread.start()
        }
        group.wait()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if let f = queue.failure { return .failure(QueueFailure(message: f)) }
        return .success((wall, queue.cpu))
    }

    struct QueueFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private final class Queue: Sendable {
        private let items: [String]
        /// The next item, the first failure and the CPU seconds so far, under one lock.
        private let state = Mutex<(next: Int, failure: String?, cpu: Double)>((0, nil, 0))
        init(_ items: [String]) { self.items = items }
        var failure: String? { state.withLock { $0.failure } }
        var cpu: Double { state.withLock { $0.cpu } }
        func take() -> String? {
            state.withLock { s in
                guard s.failure == nil, s.next < items.count else { return nil }
                s.next += 1
                return items[s.next - 1]
            }
        }
        func add(cpu c: Double) { state.withLock { $0.cpu += c } }
        func fail(_ message: String) { state.withLock { s in if s.failure == nil { s.failure = message } } }
    }
}
