/// `[cluster] postgres`: a libpq-style connection URL, parsed by credsd (SPEC 10).
///
/// `postgresql://USER@HOST:PORT/DB?sslmode=...` (or `postgres://`); `?host=/dir` (or a percent-encoded `/dir` as the
/// host) names a Unix-socket directory, whose socket is `/dir/.s.PGSQL.PORT`. One host only. A password in the URL
/// (`user:secret@`, `?password=`) is refused: it belongs in `passwordFile`, a secret file with checked permissions,
/// and a URL is printed by `check-config` and named in error messages. Parse errors never repeat the URL.
///
/// `sslmode` (decision): `disable` by default over a Unix socket (the kernel carries the bytes; TLS is refused there),
/// `require` by default over TCP (encrypted; credsd never talks to a database in clear over a network unless told
/// `disable`). As in libpq, `require` does not check the server's certificate; `verify-ca` checks it against the
/// system trust store, `verify-full` also checks the host name. `allow` and `prefer` are refused: they fall back
/// to clear text silently.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// Where the server listens.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// A Unix socket in `directory`, named for `port`.
        case unixSocket(directory: String, port: Int)
    }

    /// libpq's `sslmode` values credsd accepts.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        case disable
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// Longest URL accepted.
    public static let maxLength = 4096
    /// PostgreSQL truncates names past 63 bytes (NAMEDATALEN - 1); credsd refuses them instead.
    public static let maxNameBytes = 63
    public static let defaultPort = 5432

    public let endpoint: Endpoint
    public let user: String
    public let database: String
    public let sslMode: SSLMode

    public init(endpoint: Endpoint, user: String, database: String, sslMode: SSLMode) {
        self.endpoint = endpoint
        self.user = user
        self.database = database
        self.sslMode = sslMode
    }

    /// The path of the server's socket, for a Unix-socket endpoint.
    public var socketPath: String? {
        guard case .unixSocket(let directory, let port) = endpoint else { return nil }
        return (directory.hasSuffix("/") ? directory : directory + "/") + ".s.PGSQL.\(port)"
    }

    /// The URL in canonical form (never holds a password: none is accepted).
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : Self.encode(host)
            return "postgresql://\(Self.encode(user))@\(shown):\(port)/\(Self.encode(database))"
                + "?sslmode=\(sslMode.rawValue)"
        case .unixSocket(let directory, let port):
            let portPart = port == Self.defaultPort ? "" : "&port=\(port)"
            return "postgresql://\(Self.encode(user))@/\(Self.encode(database))"
                + "?host=\(Self.encode(directory))\(portPart)"
        }
    }

    /// Parses `text`; the error says what is wrong without repeating the URL.
    public static func parse(_ text: String) throws(PostgresURLError) -> PostgresURL {
        guard text.utf8.count <= maxLength else { throw PostgresURLError("longer than \(maxLength) bytes") }
        var rest = Substring(text)
        if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else {
            throw PostgresURLError("must start with postgresql:// or postgres://")
        }
        guard !rest.contains("#") else { throw PostgresURLError("a fragment (#) is not allowed") }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var authority = rest
        var user: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            if userInfo.contains(":") { throw passwordRefused }
            user = try decode(userInfo, "the user")
            authority = authority[authority.index(after: at)...]
        }
        var (host, port) = try hostAndPort(authority)
        var database = path.isEmpty ? nil : try decode(path, "the database name")
        if database?.contains("/") ?? false { throw PostgresURLError("the database name must not contain /") }

        var sslMode: SSLMode?
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else {
                throw PostgresURLError("query parameter without a value (write name=value)")
            }
            let name = try decode(pair[..<equals], "a parameter name")
            let value = try decode(pair[pair.index(after: equals)...], "the value of \(name)")
            guard seen.insert(name).inserted else { throw PostgresURLError("parameter \(name) given twice") }
            switch name {
            case "password":
                throw passwordRefused
            case "host":
                guard host == nil else { throw PostgresURLError("two hosts: one in the address, one in ?host=") }
                host = try checkedHost(value)
            case "port":
                guard port == nil else { throw PostgresURLError("two ports: one in the address, one in ?port=") }
                port = try parsePort(Substring(value))
            case "user":
                guard user == nil else { throw PostgresURLError("two users: one in the address, one in ?user=") }
                user = value
            case "dbname":
                guard database == nil else { throw PostgresURLError("two databases: one in the path, one in ?dbname=") }
                database = value
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw PostgresURLError("sslmode must be disable, require, verify-ca or verify-full")
                }
                sslMode = mode
            default:
                throw PostgresURLError("unsupported parameter \(name) (host, port, user, dbname and sslmode are)")
            }
        }
        guard let host else {
            throw PostgresURLError("no host: name one, or a socket directory with ?host=/run/postgresql")
        }
        guard let user, !user.isEmpty else { throw PostgresURLError("no user: write postgresql://USER@HOST/DB") }
        let databaseName = database ?? user
        try checkName(user, "the user")
        try checkName(databaseName, "the database name")
        let endpoint: Endpoint =
            host.hasPrefix("/")
            ? .unixSocket(directory: host, port: port ?? defaultPort) : .tcp(host: host, port: port ?? defaultPort)
        let mode: SSLMode
        switch endpoint {
        case .unixSocket:
            mode = sslMode ?? .disable
            guard mode == .disable else {
                throw PostgresURLError("sslmode \(mode.rawValue) over a Unix socket: TLS is not used there")
            }
        case .tcp:
            mode = sslMode ?? .require
        }
        return PostgresURL(endpoint: endpoint, user: user, database: databaseName, sslMode: mode)
    }

    private static let passwordRefused = PostgresURLError(
        "holds a password: put it in [cluster] passwordFile (a 0600 file) instead")

    /// `host`, `host:port`, `[v6]`, `[v6]:port` or empty.
    private static func hostAndPort(_ text: Substring) throws(PostgresURLError) -> (String?, Int?) {
        if text.isEmpty { return (nil, nil) }
        if text.contains(",") { throw PostgresURLError("more than one host; credsd takes one") }
        var hostPart = text
        var portPart: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw PostgresURLError("unclosed [ in the host") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw PostgresURLError("unexpected text after ]") }
                portPart = after.dropFirst()
            }
            guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw PostgresURLError("not an IPv6 address between [ and ]")
            }
            return (String(hostPart), try portPart.map(parsePort))
        }
        if let colon = text.firstIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        let host: String? = hostPart.isEmpty ? nil : try checkedHost(try decode(hostPart, "the host"))
        return (host, try portPart.map(parsePort))
    }

    private static func checkedHost(_ host: String) throws(PostgresURLError) -> String {
        guard !host.isEmpty else { throw PostgresURLError("empty host") }
        guard host.utf8.count <= 255 else { throw PostgresURLError("the host is longer than 255 bytes") }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw PostgresURLError("the host holds a space or control character")
        }
        guard host.hasPrefix("/") || !host.contains("/") else {
            throw PostgresURLError("a socket directory must be an absolute path")
        }
        if host.hasPrefix("/") {
            guard host.utf8.count <= 90 else { throw PostgresURLError("the socket directory is too long") }
        }
        return host
    }

    private static func parsePort(_ text: Substring) throws(PostgresURLError) -> Int {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let port = Int(text), (1...65_535).contains(port)
        else { throw PostgresURLError("the port must be a number from 1 to 65535") }
        return port
    }

    private static func checkName(_ name: String, _ what: String) throws(PostgresURLError) {
        guard !name.isEmpty else { throw PostgresURLError("\(what) is empty") }
        guard name.utf8.count <= maxNameBytes else {
            throw PostgresURLError("\(what) is longer than \(maxNameBytes) bytes")
        }
        guard name.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            throw PostgresURLError("\(what) holds a control character")
        }
    }

    /// Percent-decoding (no `+` for space, as in libpq); refuses bad escapes, NUL and invalid UTF-8.
    static func decode(_ text: Substring, _ what: String) throws(PostgresURLError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw PostgresURLError("a bad percent escape in \(what)")
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard !bytes.contains(0) else { throw PostgresURLError("\(what) holds a NUL byte") }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw PostgresURLError("\(what) is not valid UTF-8")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Percent-encodes everything outside RFC 3986's unreserved set (and `/` for socket paths).
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

/// Why a `postgres` URL was refused; never contains the URL itself.
public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problem: String

    init(_ problem: String) { self.problem = problem }

    public var description: String { problem }
}
