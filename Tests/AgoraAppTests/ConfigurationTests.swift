@testable import AgoraApp
import AgoraServices
import AgoraTestSupport
import Foundation
import Testing

@Suite struct ConfigurationTests {
    @Test func fileValuesAndEnvironmentOverridesApplyInOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("agora.toml")
        try """
        # Agora configuration
        [store]
        state_dir = "/srv/agora"   # where the store lives
        map_size = 268_435_456
        writer_max_batch = 64

        [ledger]
        checkpoint_interval_ms = 250

        [log]
        level = "debug"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try AgoraConfiguration.load(file: path, environment: ["AGORA_STORE_WRITER_MAX_BATCH": "32", "AGORA_KEYS_KEK_FILE": "/run/kek"])
        #expect(configuration.stateDirectory == "/srv/agora")
        #expect(configuration.store.mapSize == 268_435_456)
        #expect(configuration.writer.maxBatch == 32)
        #expect(configuration.checkpointInterval == .milliseconds(250))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.kekFile == "/run/kek")
    }

    @Test func windowsLineEndingsAreRead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("agora.toml")
        try "# Agora\r\n[store]\r\nstate_dir = \"/srv/agora\"\r\nmap_size = 2097152\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try AgoraConfiguration.load(file: path, environment: [:])
        #expect(configuration.stateDirectory == "/srv/agora")
        #expect(configuration.store.mapSize == 2_097_152)
    }

    @Test func growthCeilingBelowTheInitialMapIsNamed() throws {
        do {
            _ = try AgoraConfiguration.load(file: nil, environment: ["AGORA_STORE_MAX_MAP_SIZE": "2097152"])
            Issue.record("accepted a ceiling below the 1 GiB default map")
        } catch {
            #expect(error.description.contains("store.max_map_size"))
        }
    }

    @Test func brokerEndpointKeysAreRead() throws {
        let configuration = try AgoraConfiguration.load(file: nil, environment: ["AGORA_MQTT_HOST": "broker.lan", "AGORA_MQTT_PORT": "18883"])
        #expect(configuration.mqtt.host == "broker.lan")
        #expect(configuration.mqtt.port == 18883)
        #expect(throws: ConfigurationError.self) { try AgoraConfiguration.load(file: nil, environment: ["AGORA_MQTT_PORT": "70000"]) }
    }

    @Test func defaultsNeedNoFile() throws {
        let configuration = try AgoraConfiguration.load(file: nil, environment: [:])
        #expect(configuration.stateDirectory == "/var/lib/agora")
        #expect(configuration.store.mapSize == 1 << 30)
        #expect(configuration.resolvedKEKFile(environment: [:]) == "/var/lib/agora/agora.kek")
        #expect(configuration.resolvedKEKFile(environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/agora.service"]) == "/run/credentials/agora.service/agora.kek")
    }

    @Test(arguments: [
        ("[store]\nmap_sise = 5\n", "store.map_sise"),
        ("[store]\nmap_size = \"big\"\n", "store.map_size"),
        ("[store]\nmap_size = 5\n", "store.map_size"),
        ("[log]\nlevel = \"loud\"\n", "log.level"),
        ("[store\n", ":1:"),
        ("[store]\nstate_dir = \"unterminated\n", ":2:"),
        ("[store]\nmap_size = 1\nmap_size = 2\n", ":3:"),
        ("just words\n", ":1:"),
    ])
    func badKeysAndLinesAreNamedInTheError(_ text: String, _ named: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("agora.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try AgoraConfiguration.load(file: path, environment: [:])
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(named), "\(error)")
        }
    }

    @Test func liveKeysAreReadAndBadOnesNamed() throws {
        let configuration = try AgoraConfiguration.load(file: nil, environment: [
            "AGORA_LIVE_ADDRESS": "live.gw.example", "AGORA_LIVE_OFFLINE_ITEMS": "50", "AGORA_LIVE_QUEUE_ITEMS": "8",
            "AGORA_LIVE_MAX_SUBSCRIPTIONS": "3", "AGORA_LIVE_ENABLED": "false",
        ])
        #expect(configuration.live == LiveConfiguration(enabled: false, address: "live.gw.example", offlineItems: 50, queueItems: 8, maxSubscriptions: 3))
        #expect(AgoraConfiguration().live.address(for: "gw.example") == "pubsub.gw.example")
        for (key, value) in [("AGORA_LIVE_ADDRESS", "alice@gw.example"), ("AGORA_LIVE_QUEUE_ITEMS", "0"), ("AGORA_LIVE_OFFLINE_ITEMS", "many")] {
            do {
                _ = try AgoraConfiguration.load(file: nil, environment: [key: value])
                Issue.record("accepted \(key)=\(value)")
            } catch {
                #expect(error.description.contains(key.dropFirst(6).lowercased().replacingOccurrences(of: "live_", with: "live.")), "\(error)")
            }
        }
    }

    @Test func environmentValueOfTheWrongTypeIsNamed() {
        #expect(throws: ConfigurationError.self) { try AgoraConfiguration.load(file: nil, environment: ["AGORA_STORE_MAP_SIZE": "lots"]) }
    }
}
