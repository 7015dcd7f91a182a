import Synchronization

/// An in-memory log: what a `StreamLogHandler` writing to it printed, for tests to search.
public final class LogCapture: TextOutputStream, Sendable {
    private let text = Mutex("")

    public init() {}

    public func write(_ string: String) {
        text.withLock { $0 += string }
    }

    /// Everything written so far.
    public var contents: String { text.withLock { $0 } }
}
