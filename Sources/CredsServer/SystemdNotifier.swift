import Glibc

/// Sends `sd_notify` datagrams to `$NOTIFY_SOCKET` (no libsystemd): READY, STOPPING, WATCHDOG, STATUS.
public struct SystemdNotifier: Sendable {
    private let path: String?
    /// Half the watchdog interval, when systemd set `WATCHDOG_USEC` for this process.
    public let watchdogInterval: Duration?

    public init() {
        path = getenv("NOTIFY_SOCKET").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let watchdogPid = getenv("WATCHDOG_PID").map { String(cString: $0) }
        if let usec = getenv("WATCHDOG_USEC").map({ String(cString: $0) }).flatMap(Int64.init), usec > 0,
            watchdogPid == nil || Int32(watchdogPid!) == getpid()
        {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// A notifier that sends nothing, for a daemon that does not own its process.
    static let off = SystemdNotifier(path: nil, watchdogInterval: nil)

    private init(path: String?, watchdogInterval: Duration?) {
        self.path = path
        self.watchdogInterval = watchdogInterval
    }

    /// Whether systemd is listening.
    public var isActive: Bool { path != nil }

    /// Sends one notification, e.g. `READY=1\nSTATUS=…`. Failures are ignored: notification is best effort.
    public func notify(_ state: String) {
        guard let path else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, length)
            }
        }
    }
}
