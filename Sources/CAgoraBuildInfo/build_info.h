// What the release build stamps into the binary. Packaging/build-static.sh passes
// -Xcc -DAGORA_GIT_DESCRIPTION="\"<git describe>\"": Swift has no compile-time string
// constants from the command line, but the Clang importer sees C macros, so the value rides
// in through this header. A plain `swift build` leaves it empty.
#ifndef AGORA_BUILD_INFO_H
#define AGORA_BUILD_INFO_H

#ifndef AGORA_GIT_DESCRIPTION
#define AGORA_GIT_DESCRIPTION ""
#endif

static inline const char *agora_git_description(void) { return AGORA_GIT_DESCRIPTION; }

#endif
