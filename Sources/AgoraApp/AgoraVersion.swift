/// The release version. `Packaging/build-static.sh` (issue 7) will stamp the git
/// description here at build time; a source build reports the base version.
public enum AgoraVersion {
    public static let current = "0.1.0"
}
