import Glibc

/// The length of a listening socket's queue of connections not yet accepted (`listen(2)`'s backlog).
///
/// NIO's `withBoundSocket` calls `listen(fd, 128)` on the socket it is given, whatever the socket was listening
/// with, and a later `.backlog` option only changes NIO's copy of the number. So each listener calls `listen`
/// once more after NIO has taken the socket: with `[limits] listenBacklog` capped by `net.core.somaxconn` for a
/// socket credsd bound itself, and with the backlog systemd gave it (the unit's `Backlog=`, read through
/// `NETLINK_SOCK_DIAG` before NIO touches the socket) for an activated one.
enum ListenBacklog {
    /// The configured backlog, lowered to the kernel's `somaxconn` (which `listen` would silently apply anyway).
    static func effective(configured: Int) -> (value: Int32, somaxconn: Int?) {
        let limit = somaxconn()
        var value = min(configured, Int(Int32.max))
        if let limit, limit > 0, value > limit { value = limit }
        return (Int32(max(value, 1)), limit)
    }

    /// `/proc/sys/net/core/somaxconn`, nil when it cannot be read.
    static func somaxconn() -> Int? {
        guard let file = fopen("/proc/sys/net/core/somaxconn", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let digits = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }.filter { (48...57).contains($0) }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// The backlog a listening Unix socket was given (what `ss -xl` shows as Send-Q), nil if it cannot be read.
    ///
    /// Asks the kernel's socket-diagnostics netlink interface (`unix_diag`, `UDIAG_SHOW_RQLEN`) about the socket's
    /// inode: for a listening socket the "write queue" figure is `sk_max_ack_backlog`.
    static func current(fd: Int32) -> Int? {
        var info = stat()
        guard fstat(fd, &info) == 0, let inode = UInt32(exactly: info.st_ino) else { return nil }
        let netlink = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkSockDiag)
        guard netlink >= 0 else { return nil }
        defer { close(netlink) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(netlink, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        // struct nlmsghdr (16 bytes), then struct unix_diag_req (24 bytes), native byte order.
        var request: [UInt8] = []
        request.append(native: UInt32(40))  // nlmsg_len
        request.append(native: UInt16(sockDiagByFamily))  // nlmsg_type
        request.append(native: UInt16(1))  // nlmsg_flags: NLM_F_REQUEST
        request.append(native: UInt32(1))  // nlmsg_seq
        request.append(native: UInt32(0))  // nlmsg_pid: the kernel
        request += [UInt8(AF_UNIX), 0, 0, 0]  // sdiag_family, sdiag_protocol, pad
        request.append(native: UInt32(1 << tcpListenState))  // udiag_states
        request.append(native: inode)  // udiag_ino
        request.append(native: UInt32(udiagShowRQLen))  // udiag_show
        request.append(native: UInt32.max)  // udiag_cookie: no cookie
        request.append(native: UInt32.max)
        guard send(netlink, request, request.count, 0) == request.count else { return nil }

        var reply = [UInt8](repeating: 0, count: 1024)
        let received = recv(netlink, &reply, reply.count, 0)
        guard received >= 32 else { return nil }
        let message = reply.prefix(received)
        let length = Int(message.native(UInt32.self, at: 0))
        guard message.native(UInt16.self, at: 4) == sockDiagByFamily, length <= received,
            message.native(UInt32.self, at: 20) == inode  // unix_diag_msg.udiag_ino
        else { return nil }
        // Attributes follow the 16-byte nlmsghdr and the 16-byte unix_diag_msg, each 4-byte aligned.
        var offset = 32
        while offset + 4 <= length {
            let attributeLength = Int(message.native(UInt16.self, at: offset))
            let type = message.native(UInt16.self, at: offset + 2)
            guard attributeLength >= 4 else { return nil }
            if type == unixDiagRQLen, attributeLength >= 12 {
                return Int(message.native(UInt32.self, at: offset + 8))  // udiag_wqueue
            }
            offset += (attributeLength + 3) & ~3
        }
        return nil
    }

    private static let netlinkSockDiag: Int32 = 4  // NETLINK_SOCK_DIAG
    private static let sockDiagByFamily: UInt16 = 20  // SOCK_DIAG_BY_FAMILY
    private static let tcpListenState = 10  // TCP_LISTEN, the state of a listening Unix socket
    private static let udiagShowRQLen = 0x10  // UDIAG_SHOW_RQLEN
    private static let unixDiagRQLen: UInt16 = 4  // UNIX_DIAG_RQLEN
}

extension [UInt8] {
    fileprivate mutating func append<Value: FixedWidthInteger>(native value: Value) {
        Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) }
    }
}

extension ArraySlice<UInt8> {
    fileprivate func native<Value: FixedWidthInteger>(_ type: Value.Type, at offset: Int) -> Value {
        var value = Value.zero
        Swift.withUnsafeMutableBytes(of: &value) { target in
            for index in 0..<MemoryLayout<Value>.size { target[index] = self[startIndex + offset + index] }
        }
        return value
    }
}
