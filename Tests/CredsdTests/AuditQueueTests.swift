@testable import CredsCore
import CredsProtocol
import NIOCore
import NIOPosix
import Testing

/// The bounds of the queue that carries resolve audit entries to the writer.
@Suite("audit queue bounds")
struct AuditQueueTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()

    func draft(_ index: Int) -> AuditDraft {
        AuditDraft(
            CallContext(socket: .resolve, eventLoop: eventLoop, method: "resolve"),
            facts: CallFacts(workspaceId: Identifier(stored: "w\(index)")))
    }

    @Test("one flush is scheduled per idle queue; a job takes at most maxPerFlush, oldest first, and says more remain")
    func flushesInParts() {
        let queue = AuditQueue()
        #expect(queue.enqueue(draft(0), on: eventLoop).scheduleFlush)
        for index in 1..<(AuditQueue.maxPerFlush + 10) {
            #expect(!queue.enqueue(draft(index), on: eventLoop).scheduleFlush)
        }
        let first = queue.drain()
        #expect(first.drafts.count == AuditQueue.maxPerFlush)
        #expect(first.drafts.first?.facts.workspaceId?.text == "w0")
        #expect(first.more)
        // The flush is still scheduled (its job reschedules itself), so new entries do not schedule another.
        #expect(!queue.enqueue(draft(-1), on: eventLoop).scheduleFlush)
        let second = queue.drain()
        #expect(second.drafts.count == 11)
        #expect(second.drafts.first?.facts.workspaceId?.text == "w\(AuditQueue.maxPerFlush)")
        #expect(!second.more)
        #expect(queue.enqueue(draft(0), on: eventLoop).scheduleFlush)
    }

    @Test("past backlogLimit entries an answer gets a future to wait for, completed after the next flush")
    func backlogHoldsAnswers() throws {
        let queue = AuditQueue()
        for index in 0..<AuditQueue.backlogLimit {
            #expect(queue.enqueue(draft(index), on: eventLoop).wait == nil)
        }
        let held = try #require(queue.enqueue(draft(0), on: eventLoop).wait)
        _ = queue.drain()
        let waiters = queue.takeWaiters()
        #expect(waiters.count == 1)
        waiters.forEach { $0.succeed() }
        try held.wait()
        #expect(queue.takeWaiters().isEmpty)
    }
}
