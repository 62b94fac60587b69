/* fuzz.h: the entry point every fuzz target defines
 *
 * libFuzzer calls it with each input it makes up; without libFuzzer,
 * fuzz/replay.c calls it with the committed corpus and crash files.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
