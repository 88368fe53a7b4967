import AgoraTestSupport
import Foundation
import Testing

/// Issue 8's security checklist, the parts that hold today, checked against a running gateway:
/// owner-only files for everything secret, listeners on the configured address only, and TLS
/// before any authentication with the default configuration.
@Suite(.serialized) struct SecurityChecklistTests {
    @Test func secretsAreOwnerOnlyFilesAndTheBrokerKeyIsItsGroupsOnly() throws {
        let gateway = try XMPPInteropTests.RunningGateway { cli, dir in
            _ = try cli.ok(["broker-config", "--out", dir.file("broker"), "--host", "127.0.0.1"])
            return nil
        }
        defer { gateway.stop() }
        func mode(_ path: String) throws -> Int {
            try FileManager.default.attributesOfItem(atPath: gateway.dir.file(path))[.posixPermissions] as! Int
        }
        for path in ["state", "state/mqtt", "state/xmpp"] { #expect(try mode(path) == 0o700, "\(path)") }
        for path in ["state/agora.kek", "state/agora.mdb", "state/agora.mdb-lock", "state/mqtt/gateway.key", "state/xmpp/server.key"] {
            #expect(try mode(path) == 0o600, "\(path)")
        }
        #expect(try mode("broker/broker.key") == 0o640)
        // Certificates and the broker's configuration are public; nothing in the state is world-writable.
        let everything = FileManager.default.enumerator(atPath: gateway.dir.file("state"))!.compactMap { $0 as? String }
        for path in everything { #expect(try mode("state/" + path) & 0o002 == 0, "\(path) is world-writable") }
    }

    @Test func listenersBindOnlyTheConfiguredAddress() throws {
        let gateway = try XMPPInteropTests.RunningGateway()
        defer { gateway.stop() }
        // The process's listening sockets, from /proc: its socket inodes, matched in /proc/net/tcp{,6}.
        let pid = gateway.serve.processIdentifier
        let inodes = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { fd -> String? in
            let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")
            guard let target, target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        var listening: [(address: String, port: Int)] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in try String(contentsOfFile: table, encoding: .utf8).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
                let local = fields[1].split(separator: ":")
                listening.append((String(local[0]), Int(local[1], radix: 16) ?? 0))
            }
        }
        #expect(Set(listening.map(\.port)) == [gateway.c2sPort, gateway.tlsPort], "\(listening)")
        // 0100007F is 127.0.0.1 as /proc writes it; 00000000 would be every address.
        #expect(listening.allSatisfy { $0.address == "0100007F" }, "\(listening)")
    }

    @Test func theDefaultConfigurationRequiresTLSBeforeAuthentication() throws {
        let gateway = try XMPPInteropTests.RunningGateway()
        defer { gateway.stop() }
        let script = """
        import re, socket, sys
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
        s.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='gw.test' version='1.0'>")
        data = b''
        while b'</stream:features>' not in data:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
        features = data.decode()
        assert re.search(r"<starttls[^>]*urn:ietf:params:xml:ns:xmpp-tls[^>]*>\\s*<required\\s*/>", features), features
        s.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGFsaWNlLXNlY3JldC0x</auth>")
        reply = b''
        while b'</failure>' not in reply and b'</stream:stream>' not in reply:
            chunk = s.recv(4096)
            if not chunk: break
            reply += chunk
        assert b'<success' not in reply, reply
        assert b'encryption-required' in reply or b'policy-violation' in reply or b'not-authorized' in reply, reply
        print('ok', reply.decode()[:120])
        """
        let result = try runProcess("/usr/bin/python3", ["-c", script, String(gateway.c2sPort)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}
