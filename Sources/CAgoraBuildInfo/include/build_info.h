// What a release build stamps into the binary: the git description of the tree it was built
// from. Packaging/build-static.sh writes it into the linked binary (Packaging/stamp-binary.py),
// over a marked slot in this target's data, so that a new commit relinks nothing and
// recompiles nothing (a -D macro changed every compile command, so every commit rebuilt every
// target). A plain `swift build` leaves the slot unstamped.
#ifndef AGORA_BUILD_INFO_H
#define AGORA_BUILD_INFO_H

/// The stamped git description, or "" when the binary was not stamped.
const char *agora_git_description(void);

#endif
