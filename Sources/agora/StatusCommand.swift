import AgoraApp
import ArgumentParser

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the gateway's health, identity, ledger, market and store use.",
        discussion: "Exits with status 1 when a health check fails; `agora ledger verify --replay` is the thorough check.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let status = try await global.withGateway(unlockKeys: false) { gateway in
            var status = try GatewayStatus(gateway: gateway)
            switch await LiveStatusClient.fetch(for: gateway) {
            case .success(let live): status.live = live
            case .failure(let reason): status.liveUnavailable = reason.description
            }
            return status
        }
        if json {
            print(try JSONOutput.line(status))
        } else {
            print(text(status))
        }
        if !status.problems.isEmpty { throw ExitCode(1) }
    }

    private func text(_ status: GatewayStatus) -> String {
        """
        health       \(status.problems.isEmpty ? "ok" : status.problems.joined(separator: "; "))
        gateway      \(status.name) (\(status.origin))
        log key      \(status.logKey)
        ledger       \(status.ledgerEntries) entries, latest checkpoint at \(status.checkpointSize)
        accounts     \(status.accounts)
        sensors      \(status.sensors) (\(status.frozenSensors) frozen)
        purchases    \(status.purchases)
        readings     \(status.readings)
        credits      \(status.totalMinted) minted, \(status.sumOfBalances) in balances
        store        \(status.usedBytes / 1024) KiB used of a \(status.mapSize / 1_048_576) MiB map (may grow to \(status.maxMapSize / 1_048_576) MiB)
        last run     \(status.lastRun.map { "stopped \($0.stoppedAt) (its counters: agora status --json)" } ?? "none stopped cleanly yet")
        \(status.live.map(liveText) ?? "running      no live counters: \(status.liveUnavailable ?? "unknown")")
        """
    }

    private func liveText(_ live: LiveStatus) -> String {
        var lines = ["running      up \(Int(live.uptimeSeconds)) s, agora \(live.version), \(live.ready ? "ready" : "not ready: " + live.problems.joined(separator: "; "))"]
        if let xmpp = live.xmpp {
            lines.append("  xmpp       \(xmpp.bound) sessions bound, \(xmpp.detached) detached, \(xmpp.negotiating) negotiating; \(xmpp.logins) logins, \(xmpp.authFailures) auth failures")
        }
        if let mqtt = live.mqtt {
            let dropped = mqtt.dropped.values.reduce(0, +)
            lines.append("  broker     \(mqtt.connected ? "connected" : "DISCONNECTED"); \(mqtt.readingsLastMinute) readings in the last minute, \(mqtt.readingsStored) stored since start, \(dropped) dropped, queue \(mqtt.queueDepth)")
        } else {
            lines.append("  broker     not configured")
        }
        lines.append(live.ledger.checkpointSize == live.ledger.entries
                     ? "  checkpoint covers all \(live.ledger.entries) entries"
                     : "  checkpoint at \(live.ledger.checkpointSize) of \(live.ledger.entries) entries, the last signed \(Int(live.ledger.checkpointAgeSeconds)) s ago")
        if let witness = live.witness {
            if !witness.peers.isEmpty {
                lines.append("  witnessed up to \(witness.witnessedSize) entries (\(witness.required) of \(witness.peers.count) witnesses required)")
                for peer in witness.peers {
                    let age = peer.cosignedAgeSeconds.map { ", \(Int($0)) s ago" } ?? ""
                    let trouble = peer.lastError.map { "; \(peer.failures) failures, last: \($0)" } ?? ""
                    lines.append("    \(peer.name) (\(peer.url)): cosigned \(peer.cosignedSize)\(age)\(trouble)")
                }
            }
            for (origin, size) in witness.logs.sorted(by: { $0.key < $1.key }) {
                lines.append("  witnessing \(origin): cosigned \(size)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    /// Accepted like everywhere else, though the version needs no store.
    @OptionGroup var global: GlobalOptions
    func run() throws { print("agora \(AgoraVersion.current)") }
}
