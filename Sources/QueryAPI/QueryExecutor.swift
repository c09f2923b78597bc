import Dispatch

/// Runs the query API's tasks on the query queue (``TraceQueryService``'s): a request's task starts there, reads
/// the database there and writes its JSON there, so that answering takes one thread hand-off each way (event loop
/// to a queue thread and back) instead of also crossing between Swift's global executor and the queue twice. Each
/// hand-off wakes a sleeping thread, which cost a trace-by-ID request more CPU than reading the trace did.
public final class QueryExecutor: TaskExecutor {
    let queue: DispatchQueue

    init(queue: DispatchQueue) { self.queue = queue }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
