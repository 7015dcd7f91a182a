internal import CLMDB
import Foundation

/// The one thread that writes. It groups queued writes into one durable commit, each in its own nested
/// transaction so one failed write does not undo the others, and answers each only after the commit.
public final class StoreWriter: @unchecked Sendable {
    // @unchecked Sendable: `pending` is guarded by `condition`; LMDB write state is touched only by `thread`.
    private struct Job {
        /// Runs in the job's nested transaction; returns what to call after the commit, and whether to roll the
        /// nested transaction back instead of keeping it (a rehearsal that journaled replicated writes).
        let run: (borrowing Transaction) throws -> (finish: () -> Void, rollBack: Bool)
        let fail: (any Error) -> Void
        /// Whether the transaction keeps a journal of replicated writes.
        let rehearsal: Bool
    }

    private let environment: LMDBEnvironment
    private let condition = NSCondition()
    private var pending: [Job] = []
    private var stopping = false
    private var thread: Thread?
    private let maxBatch: Int

    public init(environment: LMDBEnvironment, maxBatch: Int = 256) {
        self.environment = environment
        self.maxBatch = maxBatch
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "credsd-store-writer"
        self.thread = thread
        thread.start()
    }

    /// Queues `body` to run in a write transaction; `completion` is called on the writer thread
    /// after the transaction is durably committed, or with the error that stopped it.
    ///
    /// Once `stop()` was called new jobs are refused, except a `followUp`: a job queued by a completion (on
    /// the writer thread) to finish work in several parts, which runs before the thread exits.
    public func submit<Value>(
        followUp: Bool = false,
        _ body: @escaping (borrowing Transaction) throws -> Value,
        completion: @escaping (Result<Value, any Error>) -> Void
    ) {
        let job = Job(
            run: { txn in
                let value = try body(txn)
                return ({ completion(.success(value)) }, false)
            },
            fail: { completion(.failure($0)) },
            rehearsal: false
        )
        enqueue(job, followUp: followUp)
    }

    /// Runs `body` like `submit`, noting its writes to replicated databases. With no such write, `local` runs in
    /// the same transaction and it commits: `completion` gets the value and nil. Otherwise `plan` turns the journal
    /// into what the caller sends to the source of truth, the transaction is rolled back (nothing of it stays,
    /// `local` does not run) and `completion` gets the value and the plan, to apply once the source of truth took it.
    public func rehearse<Value, Plan>(
        _ body: @escaping (borrowing Transaction) throws -> Value,
        plan: @escaping (borrowing Transaction, [JournalEntry]) throws -> Plan,
        local: @escaping (borrowing Transaction, Value) throws -> Void,
        completion: @escaping (Result<(Value, Plan?), any Error>) -> Void
    ) {
        let job = Job(
            run: { txn in
                let value = try body(txn)
                let entries = txn.journal?.entries ?? []
                guard !entries.isEmpty else {
                    try local(txn, value)
                    return ({ completion(.success((value, nil))) }, false)
                }
                let planned = try plan(txn, entries)
                return ({ completion(.success((value, planned))) }, true)
            },
            fail: { completion(.failure($0)) },
            rehearsal: true
        )
        enqueue(job, followUp: false)
    }

    private func enqueue(_ job: Job, followUp: Bool) {
        condition.lock()
        if stopping && !(followUp && thread != nil) {
            condition.unlock()
            job.fail(StoreError.stopped)
            return
        }
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Finishes the queued writes, then stops the thread.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while thread != nil { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                thread = nil
                condition.broadcast()
                condition.unlock()
                return
            }
            let count = min(pending.count, maxBatch)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            condition.unlock()
            commit(batch)
        }
    }

    private func commit(_ batch: [Job]) {
        while true {
            do {
                let finishers = try environment.mapLock.withShared { try runBatch(batch) }
                finishers.forEach { $0() }
                return
            } catch let error as LMDBError where error.isMapFull {
                do {
                    try environment.growMap()
                } catch {
                    batch.forEach { $0.fail(error) }
                    return
                }
            } catch {
                batch.forEach { $0.fail(error) }
                return
            }
        }
    }

    /// Runs every job of the batch in one transaction; returns the completions to call after the commit.
    private func runBatch(_ batch: [Job]) throws -> [() -> Void] {
        var parent: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(environment.env, nil, 0, &parent), "txn_begin")
        var finishers: [() -> Void] = []
        for job in batch {
            var child: OpaquePointer?
            let code = mdb_txn_begin(environment.env, parent, 0, &child)
            guard code == 0 else {
                mdb_txn_abort(parent)
                throw LMDBError(code, "txn_begin")
            }
            // Whether the child still needs an abort: `mdb_txn_commit` frees it, failed or not.
            var childOpen = true
            do {
                let (finish, rollBack) = try job.run(
                    Transaction(txn: child!, journal: job.rehearsal ? WriteJournal() : nil))
                childOpen = false
                if rollBack {
                    mdb_txn_abort(child)
                } else {
                    let commitCode = mdb_txn_commit(child)
                    guard commitCode == 0 else { throw LMDBError(commitCode, "txn_commit") }
                }
                finishers.append(finish)
            } catch let error as LMDBError where error.isMapFull {
                if childOpen { mdb_txn_abort(child) }
                mdb_txn_abort(parent)
                throw error
            } catch {
                if childOpen { mdb_txn_abort(child) }
                finishers.append { job.fail(error) }
            }
        }
        let code = mdb_txn_commit(parent)
        guard code == 0 else { throw LMDBError(code, "txn_commit") }
        return finishers
    }
}

/// Errors of the store itself.
public enum StoreError: Error, Sendable {
    /// The writer is shutting down and takes no new writes.
    case stopped
}
