internal import AgoraCore
internal import NIOCore
internal import NIOPosix

/// Federation's way to a peer (RFC 6120 §3.2): its targets resolved off the event loops —
/// a static route, else SRV, else the domain on 5269, bounded — then tried in order.
extension S2SFederation {
    /// Resolves `peer` off the event loops, then tries its targets in order.
    func connect(_ key: LinkKey, purpose: S2SInitiatorStateMachine.Purpose, verified: EventLoopPromise<Bool>? = nil) {
        let peer = key.peer
        guard let group, !stopped.withLockedValue({ $0 }) else {
            verified?.succeed(false)
            if verified == nil { linkEnded(nil, link: key, condition: .remoteServerNotFound) }
            return
        }
        let loop = group.next()
        let route = configuration.routes[peer]
        resolverPool.runIfActive(eventLoop: loop) { () -> [(host: String, port: Int)] in
            if let route { return Self.resolve(DNSResolver.Target(host: route.host, port: route.port)) }
            guard !Self.isAddressLiteral(peer) else { return [] }
            // Bounded: at most 4 SRV targets and 2 addresses each, whatever DNS says.
            return DNSResolver.serverTargets(for: peer).prefix(4).flatMap { Self.resolve($0).prefix(2) }
        }.whenComplete { result in
            let targets = (try? result.get()) ?? []
            guard !targets.isEmpty else {
                self.logger.info("s2s peer not found", metadata: ["peer": "\(peer)"])
                self.metrics.record { $0.s2sRefused["not_found", default: 0] += 1 }
                verified?.succeed(false)
                if verified == nil { self.linkEnded(nil, link: key, condition: .remoteServerNotFound) }
                return
            }
            self.attempt(targets[...], link: key, purpose: purpose, loop: loop, verified: verified)
        }
    }

    /// Addresses for a target: an IP literal as is, else its A/AAAA records, else the name
    /// for getaddrinfo (which reads /etc/hosts).
    private static func resolve(_ target: DNSResolver.Target) -> [(host: String, port: Int)] {
        if target.host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) { return [(target.host, target.port)] }
        let addresses = DNSResolver.addresses(of: target.host)
        return addresses.isEmpty ? [(target.host, target.port)] : addresses.map { ($0, target.port) }
    }

    private func attempt(_ targets: ArraySlice<(host: String, port: Int)>, link key: LinkKey, purpose: S2SInitiatorStateMachine.Purpose,
                         loop: any EventLoop, verified: EventLoopPromise<Bool>?) {
        let peer = key.peer
        guard let target = targets.first else {
            verified?.succeed(false)
            if verified == nil { linkEnded(nil, link: key, condition: .remoteServerNotFound) }
            return
        }
        let timeout = TimeAmount.seconds(Int64(configuration.connectTimeoutSeconds))
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try S2SOutboundConnection.install(on: channel, federation: self, local: key.local, peer: peer, purpose: purpose, verified: verified)
                }
            }
            .connect(host: target.host, port: target.port)
            .whenFailure { error in
                self.logger.debug("s2s connection failed", metadata: ["peer": "\(peer)", "target": "\(target.host):\(target.port)", "error": "\(error)"])
                self.attempt(targets.dropFirst(), link: key, purpose: purpose, loop: loop, verified: verified)
            }
    }
}
