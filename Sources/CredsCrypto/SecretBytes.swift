internal import CSodium

/// Secret material in guarded memory (`sodium_malloc`): read-only once filled, wiped and freed on release.
///
/// It has no `description` that shows its bytes: printing it shows only its length.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    // @unchecked Sendable: the buffer is written only during `init`, then `sodium_mprotect_readonly`.
    private let pointer: UnsafeMutableRawPointer
    /// Number of secret bytes held.
    public let count: Int

    /// Allocates `count` bytes of guarded memory and lets `fill` write them once.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        guard let pointer = sodium_malloc(max(count, 1)) else {
            fatalError("sodium_malloc failed: out of memory")
        }
        self.pointer = pointer
        self.count = count
        do {
            try fill(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            sodium_free(pointer)
            throw error
        }
        sodium_mprotect_readonly(pointer)
    }

    /// Copies `bytes` into guarded memory.
    public convenience init<Bytes: Collection>(copying bytes: Bytes) where Bytes.Element == UInt8 {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    deinit {
        // sodium_free makes the pages writable again, zeroes them and unmaps them with their guard pages.
        sodium_free(pointer)
    }

    /// Gives read access to the secret bytes for the duration of `body`.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Compares in constant time.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return other.withUnsafeBytes { sodium_memcmp(pointer, $0.baseAddress, count) == 0 }
    }

    public var description: String { "SecretBytes(\(count) bytes)" }
    public var debugDescription: String { description }
}
