import Foundation

/// A peer could not bind its port: another process took it between `freePorts` and the start.
/// `withFreePorts` then tries again on new ports.
public struct PortTaken: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The first of `count` consecutive TCP ports that are free now: the kernel picks the first
/// (bind port 0 on every address, read it back), the others are checked by binding them. All
/// are closed again before returning, so another process may still take one before the peer
/// binds it — start peers with `withFreePorts`, which retries on `PortTaken`.
public func freePorts(_ count: Int = 1) throws -> Int {
    for _ in 0..<100 {
        var sockets: [Int32] = []
        defer { sockets.forEach { _ = close($0) } }
        guard let first = bindTCP(port: 0) else { break }
        sockets.append(first.socket)
        for next in first.port + 1..<first.port + count {
            guard next <= 65_535, let bound = bindTCP(port: next) else { break }
            sockets.append(bound.socket)
        }
        if sockets.count == count { return first.port }
    }
    throw PortTaken(description: "found no \(count) consecutive free TCP ports")
}

/// Runs `start` with the first of `count` consecutive free ports (`freePorts`); when it throws
/// `PortTaken` (the peer exited because another process bound a port in between), runs it
/// again on new ports, `attempts` times in all. `start` must stop what it started before
/// throwing.
public func withFreePorts<Value>(_ count: Int = 1, attempts: Int = 4, _ start: (_ port: Int) throws -> Value) throws -> Value {
    var failures: [String] = []
    for _ in 0..<attempts {
        do {
            return try start(try freePorts(count))
        } catch let taken as PortTaken {
            failures.append(taken.description)
        }
    }
    throw PortTaken(description: "every attempt found a port taken:\n" + failures.joined(separator: "\n"))
}

/// A TCP socket bound to `port` (0: the kernel chooses) on every IPv4 address, and its port.
private func bindTCP(port: Int) -> (socket: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr = in_addr(s_addr: INADDR_ANY)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
        }
    }
    guard bound else {
        close(fd)
        return nil
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
