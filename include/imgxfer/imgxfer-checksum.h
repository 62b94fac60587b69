/* imgxfer-checksum.h: blkhash checksums of guest-visible data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

#define IMGXFER_CHECKSUM_DEFAULT_ALGORITHM "blake2b"
#define IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE (4 * 1024 * 1024)

IMGXFER_AVAILABLE_IN_ALL
const char *const *imgxfer_checksum_list_algorithms (void);

/**
 * imgxfer_checksum_compute:
 * @source: an open source
 * @algorithm: (nullable): digest algorithm, blake2b when %NULL
 * @block_size: 0 for the default (4 MiB); 1–16 MiB, a multiple of 4096
 * @threads: hashing threads, 0 for one per core
 *
 * Returns: (transfer full): the checksum as lowercase hex
 */
IMGXFER_AVAILABLE_IN_ALL
char *imgxfer_checksum_compute (ImgxferBackend *source,
                                const char *algorithm,
                                gsize block_size,
                                guint threads,
                                GCancellable *cancellable,
                                GError **error);

G_END_DECLS
