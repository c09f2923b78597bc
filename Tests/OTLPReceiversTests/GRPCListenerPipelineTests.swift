import CollectorCore
import NIOCore
import NIOEmbedded
import NIOServing
import Testing

@testable import OTLPReceivers

/// Counts the reads the pipeline asks the socket for.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// The gRPC listener's pipeline for one connection, as `OTLPGRPCServer` builds it after TLS.
@Suite struct GRPCListenerPipelineTests {
    @Test func nothingIsReadFromAClientWhileItsAnswersCannotBeWritten() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)  // nearest the socket: sees the reads that reach it
        let services = OTLPGRPCServices(handler: OTLPExportHandler(next: SignalConsumers()), limit: 1 << 20)
        try OTLPGRPCServer.configure(
            channel, services: services, budget: InFlightBudget(limit: 1 << 20), maxConcurrentStreams: 100, keepalive: GRPCKeepalive())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4317)).wait()
        channel.read()
        #expect(counter.reads == 1)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(counter.reads == 1)  // held while the answers wait
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 2)  // and asked for once they have gone
        _ = try? channel.finish()
    }
}
