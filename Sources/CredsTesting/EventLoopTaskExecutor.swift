import Dispatch
import NIOCore
import NIOPosix

/// Runs Swift tasks on a thread of its own instead of the shared cooperative pool.
///
/// Tests that block their thread (synchronous clients, `usleep`) hold cooperative threads, and the pool has only
/// as many as there are cores: a daemon whose tasks waited for one of them could not start or stop meanwhile.
final class EventLoopTaskExecutor: TaskExecutor {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let loop: any EventLoop

    init() {
        loop = group.next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    /// Ends the thread; call from another thread once no task uses the executor any more.
    ///
    /// Not `syncShutdownGracefully()`: it finishes on `DispatchQueue.global()`, whose threads on Linux are those of
    /// Swift's cooperative pool, and with those all blocked by synchronous tests it took 0.77 s instead of 0.2 ms.
    func shutdown() {
        let done = DispatchSemaphore(value: 0)
        group.shutdownGracefully(queue: DispatchQueue(label: "credsd.testing.shutdown")) { _ in done.signal() }
        done.wait()
    }
}
