#if canImport(Glibc)
internal import Glibc
#endif

/// The C library's words for an `errno` value, lower-cased to sit inside a sentence:
/// `cannot listen on 127.0.0.1:5222: address already in use`. NIO's own `IOError`
/// description names the syscall and its arguments (`bind(descriptor:ptr:bytes:)`), which
/// tells an operator nothing they can act on.
public func systemErrorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    let words = String(cString: text)
    guard let first = words.first else { return "error \(code)" }
    return first.lowercased() + words.dropFirst()
}
