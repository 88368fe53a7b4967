#if canImport(Glibc)
internal import Glibc
#endif

/// Names the calling thread (what `top -H`, `/proc/PID/task/TID/comm` and the idle benchmark
/// show). A thread started with `pthread_create` otherwise inherits its creator's name, often
/// a Dispatch worker's. Written through `/proc/thread-self/comm` because Glibc's module map
/// does not expose `pthread_setname_np`. Linux keeps 15 bytes; failures are ignored.
package func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
    #endif
}
