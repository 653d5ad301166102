#ifndef KEYHOLE_VERSION_H
#define KEYHOLE_VERSION_H

#include <stdbool.h>
#include <stdio.h>

/*
 * keyhole version (SPEC §10): one line "keyhole X.Y.Z"; verbose adds one
 * line each for the Landlock ABI, the seccomp features, the OpenSSL
 * version and whether libsecret can be loaded.
 */
void	 version_print(FILE *, bool verbose);

#endif
