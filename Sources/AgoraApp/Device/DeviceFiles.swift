internal import AgoraCore
internal import SwiftASN1
internal import X509
#if canImport(Glibc)
internal import Glibc
#endif

/// A device's identity on disk, the directory `agora device pair --out` writes and
/// `agora device publish --dir` reads:
///
/// ```
/// DIR/            0700
///   key.pem       0600  the device's private key (PKCS#8), made on the device, never sent
///   cert.pem      0600  its certificate from the gateway's CA, followed by the CA (the chain
///                       the pairing response carries, as libmosquitto's certfile takes it)
///   ca.pem        0600  the gateway's CA: the broker's certificate chains to it
/// ```
public struct DeviceFiles: Sendable {
    public let directory: String
    public var key: String { directory + "/key.pem" }
    public var certificate: String { directory + "/cert.pem" }
    public var ca: String { directory + "/ca.pem" }

    public init(directory: String) {
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    /// Makes sure pairing can write its result before a code is spent on it: the directory
    /// exists (made 0700 if it did not) and holds no identity yet. Returns whether it was
    /// made here, so `discard` can remove it after a failure.
    func prepare() throws(DeviceError) -> Bool {
        for path in [key, certificate, ca] where access(path, F_OK) == 0 { throw .identityExists(path) }
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw .file(directory, "exists and is not a directory") }
            guard access(directory, W_OK) == 0 else { throw .file(directory, "not writable: \(Self.systemError())") }
            return false
        }
        guard mkdir(directory, 0o700) == 0 else { throw .file(directory, "cannot create it: \(Self.systemError())") }
        chmod(directory, 0o700) // mkdir applies the umask
        return true
    }

    /// Removes the directory `prepare` made, if nothing was put in it.
    func discard(made: Bool) {
        if made { rmdir(directory) }
    }

    /// Writes the three files, each 0600 and fsynced; the key last, so a directory with a key
    /// has the rest.
    func write(keyPEM: String, chainPEM: String, caPEM: String) throws(DeviceError) {
        for (path, text) in [(ca, caPEM), (certificate, chainPEM), (key, keyPEM)] {
            do { try FileSystem.write(Array(text.utf8), to: path, mode: 0o600) } catch { throw DeviceError(.file, error.description) }
        }
    }

    /// The device's certificate (the first in cert.pem), checked to be readable with the key
    /// and CA beside it: what `publish` needs before it connects.
    func loadCertificate() throws(DeviceError) -> Certificate {
        for path in [key, certificate, ca] where access(path, R_OK) != 0 { throw .identityMissing(path, Self.systemError()) }
        let text: String
        do { text = try AgoraConfiguration.readText(certificate) } catch { throw .identityMissing(certificate, "cannot be read") }
        return try Self.firstCertificate(in: text, source: certificate)
    }

    /// The first certificate of a PEM chain.
    static func firstCertificate(in chain: String, source: String) throws(DeviceError) -> Certificate {
        do {
            guard let first = try PEMDocument.parseMultiple(pemString: chain).first(where: { $0.discriminator == "CERTIFICATE" }) else {
                throw DeviceError.file(source, "holds no PEM CERTIFICATE")
            }
            return try Certificate(derEncoded: first.derBytes)
        } catch let error as DeviceError {
            throw error
        } catch {
            throw .file(source, "not a readable certificate: \(error)")
        }
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
