import Glibc

/// The Swift runtime's crash report (`SWIFT_BACKTRACE`) with the stack only: SPEC 7 forbids register values and
/// memory contents in a crash report, and the runtime's defaults print every register with the 16 bytes it points
/// at (`Registers:` section), which near secret handling is a leak into journald.
///
/// The runtime reads `SWIFT_BACKTRACE` once, when the process starts, so `credsd serve` re-executes itself with
/// the safe value when its environment holds anything else. Measured with Swift 6.3.1 (`kill -SEGV` of a
/// running process): the default and `preset=medium` print `Registers:` (each register and 16 bytes of memory it
/// points at), `preset=full,registers=all` does so for every thread; `registers=none` removes it and
/// `images=none` the image list. The operator's value is replaced as a whole, never merged. What stays: the
/// signal, the fault address, and the stack (frame addresses, symbols, libraries).
enum CrashReports {
    /// The one value `credsd serve` runs with; the systemd unit sets the same string.
    static let safeSetting =
        "enable=yes,interactive=no,color=no,threads=all,registers=none,images=none,sanitize=yes,format=text,output-to=stderr"

    /// Set (to "1") across the re-exec, so a second pass that still sees another setting stops instead of looping.
    static let reexecMarker = "CREDSD_BACKTRACE_REEXEC"

    /// Returns when the process runs with `safeSetting`; otherwise replaces the process image with its own binary
    /// (same pid, argv and descriptors: systemd's `LISTEN_FDS`/`LISTEN_PID`/`NOTIFY_SOCKET` stay valid) with
    /// `SWIFT_BACKTRACE` set to `safeSetting`. Throws when that is not possible, so credsd never serves without it.
    static func ensureSafeSetting() throws {
        let current = getenv("SWIFT_BACKTRACE").map { String(cString: $0) }
        if current == safeSetting {
            unsetenv(reexecMarker)
            return
        }
        if getenv(reexecMarker) != nil {
            throw StartupError(
                message: "SWIFT_BACKTRACE: could not be set to \(safeSetting) (re-executed once already)")
        }
        var entries: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !text.hasPrefix("SWIFT_BACKTRACE=") && !text.hasPrefix(reexecMarker + "=") { entries.append(text) }
            index += 1
        }
        entries.append("SWIFT_BACKTRACE=" + safeSetting)
        entries.append(reexecMarker + "=1")
        var envp: [UnsafeMutablePointer<CChar>?] = entries.map { strdup($0) }
        envp.append(nil)
        // The binary's own path, so the process keeps its name (`comm`, journald's `_COMM`): exec of
        // /proc/self/exe would rename it "exe". /proc/self/exe itself when the path is gone (an upgrade).
        let path = executablePath() ?? "/proc/self/exe"
        execve(path, CommandLine.unsafeArgv, &envp)
        let problem = String(cString: strerror(errno))
        for pointer in envp { free(pointer) }
        throw StartupError(
            message:
                "SWIFT_BACKTRACE: cannot re-execute \(path) (\(problem)) to set \(safeSetting); set it in the environment"
        )
    }

    /// Where /proc/self/exe points, if that file still exists.
    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return access(path, X_OK) == 0 ? path : nil
    }
}
