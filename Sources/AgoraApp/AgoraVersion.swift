internal import CAgoraBuildInfo

/// The release version, and the git commit a release build was made from.
///
/// `Packaging/build-static.sh` stamps `git describe --tags --always --dirty` into the linked
/// binary (see `CAgoraBuildInfo`); a plain `swift build` has none.
public enum AgoraVersion {
    /// The release this source tree is; `Packaging/build-deb.sh` reads it from here.
    public static let base = "0.1.0"

    /// The git description stamped at build time, or nil.
    public static var git: String? {
        let description = String(cString: agora_git_description())
        return description.isEmpty ? nil : description
    }

    /// `0.1.0+git.1cd05b5`, or the base version for an unstamped build.
    public static var current: String {
        git.map { "\(base)+git.\($0)" } ?? base
    }
}
