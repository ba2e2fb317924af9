import FleetShards
import FleetTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A one-node Slurm cluster in a temporary directory: munged, slurmctld and slurmd started as
/// child processes of the test with their own sockets, ports, state and logs (nothing in /etc is
/// touched), stopped at the end. Installs slurm-wlm and munge with apt-get when they are missing.
final class SlurmCluster {
    struct Unavailable: Error, CustomStringConvertible { var description: String }

    let dir: URL
    let conf: URL
    /// The daemons: name and pid. Started with posix_spawn, not Foundation's Process: the
    /// daemons close the descriptors they inherit, which Foundation takes for the child's exit
    /// and then blocks its process-monitor thread in waitpid, hanging every other Process.
    private var daemons: [(name: String, pid: pid_t)] = []
    private var exited: [pid_t: Int32] = [:]
    /// The environment for Slurm commands and the jobs they submit (sbatch exports it).
    let environment: [String: String]

    static func tool(_ name: String) -> String? {
        TestPaths.which(name) ?? ["/usr/sbin", "/usr/bin"].map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Installs slurm-wlm and munge if missing (root and apt-get only).
    static func install() throws {
        let needed = ["slurmctld", "slurmd", "munged", "mungekey", "sbatch", "scontrol", "squeue", "sinfo"]
        guard needed.contains(where: { tool($0) == nil }) else { return }
        guard getuid() == 0, let apt = tool("apt-get") else {
            throw Unavailable(description: "Slurm (slurm-wlm, munge) is not installed and cannot be installed here (needs root and apt-get)")
        }
        let cmd = "\(apt) update -qq && DEBIAN_FRONTEND=noninteractive \(apt) install -y -qq --no-install-recommends slurm-wlm munge"
        let (s, _, err) = try TestPaths.run("/bin/bash", ["-c", cmd])
        guard s == 0, !needed.contains(where: { tool($0) == nil }) else {
            throw Unavailable(description: "apt-get could not install slurm-wlm and munge (exit \(s)): \(err.suffix(400))")
        }
    }

    /// A TCP port nobody listens on now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    init(cpus: Int, extraPath: String) throws {
        try Self.install()
        let fm = FileManager.default
        dir = URL(fileURLWithPath: "/tmp/fleetprep-slurm-\(UUID().uuidString.prefix(8))")
        conf = dir.appendingPathComponent("slurm.conf")
        for sub in ["munge", "state", "spool", "log"] {
            try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir.appendingPathComponent("munge").path)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let socketPath = dir.appendingPathComponent("munge/munge.socket").path
        let (ctldPort, dPort) = (Self.freePort(), Self.freePort())
        try """
        ClusterName=fleetpreptest
        SlurmctldHost=\(host)(127.0.0.1)
        SlurmctldPort=\(ctldPort)
        SlurmdPort=\(dPort)
        SlurmUser=root
        SlurmdUser=root
        AuthType=auth/munge
        CredType=cred/munge
        AuthInfo=socket=\(socketPath),cred_expire=8
        StateSaveLocation=\(dir.path)/state
        SlurmdSpoolDir=\(dir.path)/spool
        SlurmctldPidFile=\(dir.path)/slurmctld.pid
        SlurmdPidFile=\(dir.path)/slurmd.pid
        SlurmctldLogFile=\(dir.path)/log/slurmctld.log
        SlurmdLogFile=\(dir.path)/log/slurmd.log
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        SchedulerType=sched/backfill
        SchedulerParameters=sched_interval=1
        MpiDefault=none
        ReturnToService=2
        SlurmdParameters=config_overrides
        MinJobAge=3600
        InactiveLimit=0
        KillWait=2
        NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(cpus) RealMemory=4096 State=UNKNOWN
        PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO

        """.write(to: conf, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CONF"] = conf.path
        env["PATH"] = extraPath + ":" + (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin"
        environment = env

        do {
            let key = dir.appendingPathComponent("munge/munge.key").path
            let (ks, _, kerr) = try TestPaths.run(Self.tool("mungekey")!, ["--create", "--keyfile=\(key)"])
            guard ks == 0 else { throw Unavailable(description: "mungekey failed: \(kerr)") }
            try spawn("munged", ["-F", "-f", "--socket=\(socketPath)", "--key-file=\(key)", "--log-file=\(dir.path)/log/munged.log",
                                 "--pid-file=\(dir.path)/munge/munged.pid", "--seed-file=\(dir.path)/munge/munged.seed"])
            try waitFor("munged's socket", seconds: 15) { fm.fileExists(atPath: socketPath) }
            try spawn("slurmctld", ["-D", "-i", "-f", conf.path])
            try spawn("slurmd", ["-D", "-f", conf.path])
            try waitFor("the node to be idle", seconds: 40) {
                (try? self.shell("sinfo -h -o %T"))?.out.trimmingCharacters(in: .whitespacesAndNewlines) == "idle"
            }
        } catch {
            stop()
            throw error
        }
    }

    private func spawn(_ name: String, _ args: [String]) throws {
        let exe = Self.tool(name)!
        let log = dir.appendingPathComponent("log/\(name).out").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of this process: a pipe another test is reading must not stay open in a daemon.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(sym, to: CloseFrom.self)(&actions, 3)
        } else if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for fd in fds.compactMap({ Int32($0) }) where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        guard rc == 0 else { throw Unavailable(description: "cannot start \(name): \(String(cString: strerror(rc)))") }
        daemons.append((name, pid))
    }

    /// Whether the daemon still runs (reaps it once it has exited).
    private func running(_ pid: pid_t) -> Bool {
        if exited[pid] != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited[pid] = status; return false }
        return true
    }

    private func waitFor(_ what: String, seconds: Double, _ ok: () -> Bool) throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if ok() { return }
            if let dead = daemons.first(where: { !running($0.pid) }) {
                throw Unavailable(description: "\(dead.name) exited (wait status \(exited[dead.pid] ?? -1)) while waiting for \(what): \(logTail(dead.name))")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw Unavailable(description: "timed out after \(Int(seconds)) s waiting for \(what); " + daemons.map { "\($0.0): \(logTail($0.0))" }.joined(separator: " | "))
    }

    func logTail(_ name: String) -> String {
        let text = ["log/\(name).out", "log/\(name).log"].compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
        return String(text.suffix(1500)).replacingOccurrences(of: "\n", with: " / ")
    }

    /// Runs a bash command line with the cluster's environment, in `cwd` (default: the cluster's directory).
    @discardableResult
    func shell(_ command: String, cwd: URL? = nil) throws -> (status: Int32, out: String, err: String) {
        let (s, o, e) = try TestPaths.run("/bin/bash", ["-c", command], cwd: cwd ?? dir, environment: environment)
        return (s, String(decoding: o, as: UTF8.self), e)
    }

    /// `scontrol -o show job ID`: one dictionary per job record (array tasks each).
    func jobs(_ id: String) throws -> [[String: String]] {
        try shell("scontrol -o show job \(id)").out.split(separator: "\n").map { line in
            var d: [String: String] = [:]
            for field in line.split(separator: " ") {
                guard let eq = field.firstIndex(of: "=") else { continue }
                d[String(field[..<eq])] = String(field[field.index(after: eq)...])
            }
            return d
        }
    }

    func stop() {
        for d in daemons.reversed() where running(d.pid) { kill(d.pid, SIGTERM) }
        let end = Date().addingTimeInterval(10)
        for d in daemons.reversed() {
            while running(d.pid) && Date() < end { Thread.sleep(forTimeInterval: 0.1) }
            if running(d.pid) { kill(d.pid, SIGKILL); var st: Int32 = 0; waitpid(d.pid, &st, 0) }
        }
        try? FileManager.default.removeItem(at: dir)
    }
}

/// The shipped Slurm job array (docs/scale-out/slurm-ingest.sbatch) on a live one-node Slurm:
/// a 3-task array over a mixed clip tree and the dependent merge job, submitted with the
/// commands of the script's header, one task requeued mid-run; the merged dataset must hold
/// the samples of one plain `fleetprep ingest` of the same tree. Both layouts: one shared OUT,
/// and one directory per task merged with `--out`.
@Suite(.serialized, .enabled(if: TestPaths.which("ffmpeg") != nil, "skipped: the ffmpeg CLI (which makes the test clip) is not installed"))
struct SlurmArrayTests {
    static let script = TestPaths.repoRoot.appendingPathComponent("docs/scale-out/slurm-ingest.sbatch")

    /// The test copy of the script: the same lines, with the array, CPUs, memory and tensor and
    /// shard sizes scaled to a 3-CPU test node. Every replaced text must be in the script.
    static func testCopy() throws -> String {
        var text = try String(contentsOf: script, encoding: .utf8)
        for (from, to) in [("#SBATCH --array=0-15", "#SBATCH --array=0-2"), ("#SBATCH --cpus-per-task=16", "#SBATCH --cpus-per-task=1"),
                           ("#SBATCH --mem=16G", "#SBATCH --mem=512M"), ("--size 640x480", "--size 160x120"),
                           ("--target h100", "--target 64MiB")] {
            #expect(text.contains(from), "the shipped sbatch script no longer has \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }

    /// The ingest options of the test copy, for the single-process oracle.
    static let ingestOptions = ["--jobs", "1", "--size", "160x120", "--dtype", "f16", "--layout", "chw", "--normalize", "imagenet",
                                "--format", "native", "--target", "64MiB", "--fill", "0.05"]

    /// The header's submission commands: (array job, dependent merge) for the shared layout and
    /// for one directory per task.
    static func headerCommands() throws -> [(submit: String, merge: String)] {
        let lines = try String(contentsOf: script, encoding: .utf8).split(separator: "\n").map(String.init)
        let submits = lines.filter { $0.hasPrefix("#   jid=$(sbatch") }.map { String($0.dropFirst(4)) }
        let merges = lines.filter { $0.hasPrefix("#   sbatch --dependency=afterok:$jid") }.map { String($0.dropFirst(4)) }
        #expect(submits.count == 2 && merges.count == 2, "the header should document both layouts: \(submits) \(merges)")
        return Array(zip(submits, merges))
    }

    /// SampleClips (single clips of six codecs and containers, a clip group with signals and
    /// annotations) plus a 16 s 1280x960 clip that sorts second, so that array task 1 runs
    /// long enough to be requeued mid-run.
    static func makeTree(_ root: URL) throws -> URL {
        let clips = root.appendingPathComponent("clips")
        let fm = FileManager.default
        try fm.copyItem(at: TestPaths.sampleClips, to: clips)
        // One camera per group, as the shipped script has no --mixed-shapes: event_0001 keeps its
        // main camera with the signals and annotations (labels), without clip.json's 8 cameras.
        let event = clips.appendingPathComponent("event_0001")
        for name in try fm.contentsOfDirectory(atPath: event.path) where name == "clip.json" || (name.hasSuffix(".mp4") && name != "main.mp4") {
            try fm.removeItem(at: event.appendingPathComponent(name))
        }
        let r = try TestPaths.run(TestPaths.which("ffmpeg")!, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1280x960:r=30:d=16",
                                                               "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
                                                               clips.appendingPathComponent("b_long_1280x960.mp4").path])
        #expect(r.0 == 0, "\(r.2)")
        return clips
    }

    @Test func arrayWithRequeuedTaskAndDependentMergeEqualsOneProcess() throws {
        let t0 = Date()
        let root = IngestCLITests.tempDir("slurm")
        defer { try? FileManager.default.removeItem(at: root) }
        let bin = URL(fileURLWithPath: TestPaths.fleetprepExecutable).deletingLastPathComponent().path
        let cluster: SlurmCluster
        do { cluster = try SlurmCluster(cpus: 3, extraPath: bin) } catch let e as SlurmCluster.Unavailable {
            // Test.cancel reports the case as passed on this toolchain: say "skipped" in the form
            // make test counts, so the skip and its reason show in the log and the last line.
            print("➜ Test arrayWithRequeuedTaskAndDependentMergeEqualsOneProcess() skipped: the live Slurm test cannot run: \(e)")
            try Test.cancel("skipped: the live Slurm test cannot run: \(e)")
        }
        defer { cluster.stop() }
        let started = Date().timeIntervalSince(t0)

        let clips = try Self.makeTree(root)
        let copy = root.appendingPathComponent("slurm-ingest.sbatch")
        try Self.testCopy().write(to: copy, atomically: true, encoding: .utf8)
        let one = root.appendingPathComponent("one")
        let r = try TestPaths.fleetprep(["ingest", clips.path, "--out", one.path, "--quiet"] + Self.ingestOptions)
        #expect(r.status == 0, "\(r.stderr)")
        let reference = try IngestCLITests.contents(one)
        #expect(reference.count > 500, "reference: \(reference.count) samples")

        for (layout, (submit, merge)) in zip(["shared", "per-task"], try Self.headerCommands()) {
            let out = root.appendingPathComponent("shards-\(layout)")
            let scratch = root.appendingPathComponent("node-\(layout)")
            func paths(_ cmd: String) -> String {
                cmd.replacingOccurrences(of: "docs/scale-out/slurm-ingest.sbatch", with: copy.path)
                    .replacingOccurrences(of: "/data/clips", with: clips.path)
                    .replacingOccurrences(of: "/data/shards", with: out.path)
                    .replacingOccurrences(of: "/scratch/shards-", with: scratch.path + "/shards-")
                    .replacingOccurrences(of: "{0..15}", with: "{0..2}")
            }
            // Task 1's output directory and journal.
            let task1 = layout == "shared" ? out : scratch.appendingPathComponent("shards-1")
            let journal = task1.appendingPathComponent(".fleetprep/journal-w001of003.jsonl")
            let s = try cluster.shell(paths(submit) + "\necho \"$jid\"", cwd: root)
            let jid = s.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(s.status == 0 && Int(jid) != nil, "\(layout): sbatch: \(s.out) \(s.err)")
            guard Int(jid) != nil else { continue }
            let m = try cluster.shell("jid=\(jid)\n" + paths(merge), cwd: root)
            let mjid = m.out.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            #expect(m.status == 0 && m.out.hasPrefix("Submitted batch job"), "\(layout): merge sbatch: \(m.out) \(m.err)")

            // Requeue task 1 once it has journaled a shard and has not finished.
            var requeued = false
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                let text = (try? String(contentsOf: journal, encoding: .utf8)) ?? ""
                if text.contains("\"kind\":\"end\"") { break }
                if text.contains("\"kind\":\"shard\""), try cluster.jobs("\(jid)_1").first?["JobState"] == "RUNNING" {
                    let q = try cluster.shell("scontrol requeue \(jid)_1")
                    #expect(q.status == 0, "\(layout): requeue: \(q.err)")
                    requeued = q.status == 0
                    // A requeued job may start again once its old credential has expired
                    // (cred_expire=8 s here; it must not start sooner: "Job credential revoked").
                    // The scheduler can leave it pending (BeginTime) well past that time; then
                    // nudge it.
                    let until = Date().addingTimeInterval(60)
                    let parse = DateFormatter()
                    parse.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
                    parse.timeZone = .current
                    while requeued && Date() < until {
                        let t = try cluster.jobs("\(jid)_1").first ?? [:]
                        if t["JobState"] == "PENDING", t["Reason"] == "BeginTime", let e = t["EligibleTime"].flatMap(parse.date(from:)),
                           Date() > e.addingTimeInterval(1) {
                            try cluster.shell("scontrol update jobid=\(jid)_1 StartTime=now")
                        } else if t["JobState"] != "COMPLETING" && t["JobState"] != "PENDING" { break }
                        Thread.sleep(forTimeInterval: 0.3)
                    }
                    break
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            #expect(requeued, "\(layout): task 1 was not caught mid-run (journal: \(journal.path))")

            // Wait for the array and the merge job.
            let waitEnd = Date().addingTimeInterval(240)
            while Date() < waitEnd, !(try cluster.shell("squeue -h -j \(jid),\(mjid)").out.isEmpty) {
                if try cluster.jobs(mjid).first?["Reason"] == "DependencyNeverSatisfied" { break }   // a task failed
                Thread.sleep(forTimeInterval: 0.5)
            }
            let tasks = try cluster.jobs(jid)
            #expect(tasks.count == 3, "\(layout): \(tasks.count) array task records")
            for t in tasks {
                #expect(t["JobState"] == "COMPLETED", "\(layout): task \(t["ArrayTaskId"] ?? "?") \(t["JobState"] ?? "?") \(t["Reason"] ?? "") exit \(t["ExitCode"] ?? "?"); slurmctld: \(cluster.logTail("slurmctld")); slurmd: \(cluster.logTail("slurmd"))")
                let restarts = Int(t["Restarts"] ?? "") ?? -1
                #expect(restarts == (t["ArrayTaskId"] == "1" && requeued ? 1 : 0), "\(layout): task \(t["ArrayTaskId"] ?? "?") restarts \(restarts)")
            }
            let mergeJob = try cluster.jobs(mjid).first ?? [:]
            #expect(mergeJob["JobState"] == "COMPLETED", "\(layout): merge job: \(mergeJob)")
            // The requeued task resumed from its journal (its log is the second run's).
            let log1 = (try? String(contentsOf: root.appendingPathComponent("fleetprep-\(jid)_1.log"), encoding: .utf8)) ?? ""
            if requeued { #expect(log1.contains("(resumed)"), "\(layout): task 1's log: \(log1.suffix(400))") }
            // The worker manifest of task 1 holds the long clip (so it was the long task).
            let w1 = try DatasetManifest.read(from: task1.appendingPathComponent("index-w001of003.json"))
            #expect(w1.sources.arrayKeys.contains("b_long_1280x960"), "\(layout): \(w1.sources.arrayKeys)")

            let got = try IngestCLITests.contents(out)
            #expect(got.keys.sorted() == reference.keys.sorted(), "\(layout): keys differ from one process")
            var differing = 0
            for (k, v) in reference where got[k] != v { differing += 1 }
            #expect(differing == 0, "\(layout): \(differing) samples differ from one process")
            let v = try TestPaths.fleetprep(["verify", out.path])
            #expect(v.status == 0, "\(layout): verify: \(v.stdout)\(v.stderr)")
        }
        print(String(format: "slurm test: wall time %.1f s (cluster up in %.1f s)", Date().timeIntervalSince(t0), started))
    }
}
