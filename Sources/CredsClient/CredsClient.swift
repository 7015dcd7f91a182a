public import CredsProtocol
import Glibc

/// A blocking client for credsd's Unix sockets: one connection, one call at a time
/// (or raw frames, for callers that pipeline).
public final class CredsClient {
    public let socketPath: String
    private var fd: Int32
    private var nextId: Int64 = 1

    /// Connects to the socket at `path`; reads and writes time out after `timeoutSeconds`.
    public init(socketPath path: String, timeoutSeconds: Int = 30) throws(CredsClientError) {
        socketPath = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .connect(path: path, problem: "the path is empty or too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connect(path: path, problem: String(cString: strerror(errno))) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let problem = String(cString: strerror(errno))
            Glibc.close(fd)
            fd = -1
            throw .connect(path: path, problem: problem)
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Closes the connection.
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Calls `method` and returns its `result`, or throws `.remote` with the answered error.
    public func call(_ method: String, _ params: [String: JSONValue] = [:]) throws(CredsClientError) -> JSONValue {
        let id = nextId
        nextId += 1
        let request: JSONValue = [
            "jsonrpc": "2.0", "id": .int(id), "method": .string(method), "params": .object(params),
        ]
        do {
            try sendFrame(request.serialized())
        } catch {
            // The daemon may have refused the connection (forbidden, overloaded) and closed it before our
            // request went out: its answer is still there to read.
            if let answer = try? readAnswer(), let refusal = answer["error"] {
                throw .remote(CredsRemoteError(json: refusal))
            }
            throw error
        }
        while true {
            let answer = try readAnswer()
            guard answer["id"] == .int(id) || answer["id"] == .null else { continue }
            if let error = answer["error"] { throw .remote(CredsRemoteError(json: error)) }
            guard let result = answer["result"] else { throw .malformedAnswer("neither result nor error") }
            return result
        }
    }

    /// Sends one frame carrying `payload`.
    public func sendFrame(_ payload: [UInt8]) throws(CredsClientError) {
        try sendRaw(Frame.encode(payload))
    }

    /// Sends bytes as they are, for callers that build frames themselves.
    public func sendRaw(_ bytes: [UInt8]) throws(CredsClientError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw .io(String(cString: strerror(errno)))
            }
            offset += sent
        }
    }

    /// Reads one frame's payload.
    public func readFrame() throws(CredsClientError) -> [UInt8] {
        let header = try readExactly(Frame.headerSize)
        return try readExactly(Frame.length(header: header))
    }

    /// Reads one frame and parses it as a JSON object.
    public func readAnswer() throws(CredsClientError) -> JSONValue {
        let payload = try readFrame()
        guard let answer = try? JSONValue.parse(payload), answer.objectValue != nil else {
            throw .malformedAnswer("not a JSON object")
        }
        return answer
    }

    /// Whether the daemon has closed its end (waits up to `timeoutMilliseconds` for the close).
    public func isClosedByPeer(timeoutMilliseconds: Int32 = 2000) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) == 0
    }

    /// Reads and drops whatever arrives until the daemon closes the connection; false if it stays open.
    public func isClosedByPeerDiscardingData(timeoutMilliseconds: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var waited: Int32 = 0
        while waited < timeoutMilliseconds {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) >= 0 else { return false }
            if descriptor.revents != 0 {
                let got = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { return true }
            } else {
                waited += 100
            }
        }
        return false
    }

    private func readExactly(_ count: Int) throws(CredsClientError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            if got == 0 { throw .closed }
            if got < 0 {
                if errno == EINTR { continue }
                throw .io(String(cString: strerror(errno)))
            }
            filled += got
        }
        return buffer
    }
}
