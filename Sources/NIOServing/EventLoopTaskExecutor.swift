import NIOCore
import NIOPosix
import Synchronization

/// A task executor that runs jobs on SwiftNIO event loops.
///
/// A job enqueued from one of its loops runs on that same loop; one enqueued from elsewhere (a continuation resumed
/// by another thread) runs on one of its loops, in turn. Tasks that prefer this executor (`withTaskExecutorPreference`,
/// `Task(executorPreference:)`) therefore continue on the loop that did their channel I/O: a request read on a loop
/// resumes its handler without waking another thread, and the answer reaches the channel without a hop. Pinned to a
/// single loop, a task also comes back to its connection's loop after waiting on another thread.
public final class EventLoopTaskExecutor: TaskExecutor {
    private let loops: [any EventLoop]
    private let members: Set<ObjectIdentifier>
    private let turn = Atomic<Int>(0)

    /// Runs jobs on the loops of `group`.
    public init(_ group: MultiThreadedEventLoopGroup) {
        loops = Array(group.makeIterator())
        members = Set(loops.map { ObjectIdentifier($0) })
    }

    /// Runs every job on `loop`.
    public init(_ loop: any EventLoop) {
        loops = [loop]
        members = [ObjectIdentifier(loop)]
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop: any EventLoop
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, members.contains(ObjectIdentifier(current)) {
            loop = current
        } else if loops.count == 1 {
            loop = loops[0]
        } else {
            loop = loops[turn.add(1, ordering: .relaxed).oldValue % loops.count]
        }
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
