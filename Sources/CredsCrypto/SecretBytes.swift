internal import CSodium

/// Secret material that is wiped when released, and has no `description` that shows its bytes.
///
/// Long-lived keys live in guarded memory (`sodium_malloc`: guard pages, read-only once filled). A secret
/// that lives for one request (a decrypted payload, a token being answered) uses `.transient` memory:
/// ordinary heap memory zeroed with `sodium_memzero` on release. Guarded memory costs an `mmap`, two
/// `mprotect`s and a `munmap` — TLB shootdowns on every core — which is too dear for every resolve.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    // @unchecked Sendable: the buffer is written only during `init`, then only read.
    /// Where the bytes live.
    public enum Storage: Sendable {
        /// `sodium_malloc`, read-only once filled: for keys kept for the life of the process.
        case guarded
        /// Heap memory zeroed on release: for secrets that live for one request.
        case transient
    }

    private let pointer: UnsafeMutableRawPointer
    private let storage: Storage
    /// Number of secret bytes held.
    public let count: Int

    /// Allocates `count` bytes and lets `fill` write them once.
    public init(count: Int, storage: Storage = .guarded, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows
    {
        Sodium.ensureInitialized()
        let allocated = storage == .guarded ? sodium_malloc(max(count, 1)) : malloc(max(count, 1))
        guard let pointer = allocated else {
            fatalError("secret memory allocation failed: out of memory")
        }
        self.pointer = pointer
        self.storage = storage
        self.count = count
        do {
            try fill(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            Self.release(pointer, count: count, storage: storage)
            throw error
        }
        if storage == .guarded { sodium_mprotect_readonly(pointer) }
    }

    /// Copies `bytes` into secret memory.
    public convenience init<Bytes: Collection>(copying bytes: Bytes, storage: Storage = .guarded)
    where Bytes.Element == UInt8 {
        self.init(count: bytes.count, storage: storage) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    deinit {
        Self.release(pointer, count: count, storage: storage)
    }

    private static func release(_ pointer: UnsafeMutableRawPointer, count: Int, storage: Storage) {
        switch storage {
        case .guarded:
            // sodium_free makes the pages writable again, zeroes them and unmaps them with their guard pages.
            sodium_free(pointer)
        case .transient:
            sodium_memzero(pointer, count)
            free(pointer)
        }
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
