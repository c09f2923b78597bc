import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Testing

@Suite("sending_queue.storage refers to a running file_storage extension")
struct SendingQueueStorageConfigTests {
    func yaml(storage: String, extensions: String, serviceExtensions: String) -> String {
        """
        \(extensions)
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          otlp:
            endpoint: 127.0.0.1:4317
            tls: {insecure: true}
            sending_queue:
              storage: \(storage)
        service:
          \(serviceExtensions)
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [otlp]
        """
    }

    @Test func aStorageThatIsUndefinedNotListedOrNotAStorageExtensionIsReported() {
        let path = "exporters::otlp::sending_queue::storage"
        let dir = FileManager.default.temporaryDirectory.path
        #expect(
            loadProblemTexts(yaml(storage: "file_storage", extensions: "", serviceExtensions: "")) == [
                "\(path): references extension \"file_storage\", which is not defined under extensions"
            ])
        let storage = "extensions:\n  file_storage:\n    directory: \(dir)\n  bearertokenauth:\n    token: t"
        #expect(
            loadProblemTexts(yaml(storage: "file_storage", extensions: storage, serviceExtensions: "")) == [
                "\(path): extension \"file_storage\" must also be listed under service::extensions"
            ])
        #expect(
            loadProblemTexts(yaml(storage: "bearertokenauth", extensions: storage, serviceExtensions: "extensions: [bearertokenauth]")) == [
                "\(path): extension \"bearertokenauth\" is of type bearertokenauth, which is not a storage extension (use file_storage)"
            ])
        #expect(loadProblemTexts(yaml(storage: "file_storage", extensions: storage, serviceExtensions: "extensions: [file_storage]")) == [])
    }
}
