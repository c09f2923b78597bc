import NIOCore
import NIOPosix

/// A task executor that runs jobs on the event loops of one SwiftNIO group.
///
/// A job enqueued from one of the group's loops runs on that same loop; one enqueued from elsewhere (a continuation
/// resumed by another thread) runs on the next loop of the group. Tasks that prefer this executor
/// (`withTaskExecutorPreference`) therefore continue on the loop that did their channel I/O: a request read on a
/// loop resumes its handler without waking another thread, and the answer reaches the channel without a hop.
public final class EventLoopTaskExecutor: TaskExecutor {
    private let group: MultiThreadedEventLoopGroup
    private let members: Set<ObjectIdentifier>

    public init(_ group: MultiThreadedEventLoopGroup) {
        self.group = group
        self.members = Set(group.makeIterator().map { ObjectIdentifier($0) })
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop: any EventLoop
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, members.contains(ObjectIdentifier(current)) {
            loop = current
        } else {
            loop = group.next()
        }
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
