/// Whether a broker listener lets in a client without a certificate: `agora device publish`
/// asks before it publishes, because a device pointed at the pairing listener by mistake
/// would be told everything went well. That listener takes anonymous clients and its ACL
/// allows only pairing topics; Mosquitto still acknowledges each reading (MQTT 3.1.1 has no
/// way to refuse a PUBLISH) and drops it, and a SUBSCRIBE outside the ACL is granted as well.
/// The certificate listener ends the same attempt with "certificate required" (see
/// `BrokerFailure`); the cost is that refused handshake, one line in the broker's log.
enum ListenerProbe {
    /// True when the broker accepted an anonymous connection at `address`. Any failure, or no
    /// answer within `timeout`, is false: the real connection that follows reports its cause.
    static func acceptsAnonymousClients(at address: BrokerAddress, caFile: String, timeout: Duration) async throws(DeviceError) -> Bool {
        enum Event: Sendable { case accepted(Bool) }
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        // A clean session: an accepted probe leaves nothing behind at the broker.
        let probe = try DeviceConnection(clientID: DeviceConnection.anonymousClientID("probe"), address: address,
                                         tls: .init(caFile: caFile, certificateFile: nil, keyFile: nil),
                                         listener: .certificate, cleanSession: true) { event in
            switch event {
            case .connected: sink.yield(.accepted(true))
            case .failed: sink.yield(.accepted(false))
            case .subscribed, .message, .acknowledged: break
            }
        }
        try probe.start()
        let accepted = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                sink.yield(.accepted(false))
            }
            var answer = false
            for await case .accepted(let value) in events {
                answer = value
                break
            }
            group.cancelAll()
            return answer
        }
        await probe.stop()
        return accepted
    }
}
