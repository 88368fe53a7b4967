#include "build_info.h"

// The slot: 128 bytes, starting with \x01 and a name that Packaging/stamp-binary.py finds
// exactly once in the binary and overwrites with "<description>\0". Not static, so no
// optimiser folds its unstamped content into agora_git_description.
const char agora_build_stamp[128] = "\x01" "agora-git-description-slot";

const char *agora_git_description(void) {
    // Read through a volatile pointer: the value is decided after linking, not at compile time.
    const volatile char *first = agora_build_stamp;
    return first[0] == '\x01' ? "" : agora_build_stamp;
}
