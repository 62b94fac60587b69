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

/**
 * ImgxferChecksum:
 *
 * A blkhash checksum computed incrementally from the data of an image as
 * it passes by (during a copy), so that no second read is needed. It is
 * reference counted and thread safe.
 */
typedef struct _ImgxferChecksum ImgxferChecksum;

#define IMGXFER_TYPE_CHECKSUM (imgxfer_checksum_get_type ())
IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_checksum_get_type (void) G_GNUC_CONST;

IMGXFER_AVAILABLE_IN_ALL
const char *const *imgxfer_checksum_list_algorithms (void);

IMGXFER_AVAILABLE_IN_ALL
char *imgxfer_checksum_compute (ImgxferBackend *source,
                                const char *algorithm,
                                gsize block_size,
                                guint threads,
                                GCancellable *cancellable,
                                GError **error);

IMGXFER_AVAILABLE_IN_ALL
ImgxferChecksum *imgxfer_checksum_new (const char *algorithm,
                                       gsize block_size,
                                       guint64 size,
                                       GError **error);
IMGXFER_AVAILABLE_IN_ALL
ImgxferChecksum *imgxfer_checksum_ref (ImgxferChecksum *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_checksum_unref (ImgxferChecksum *self);

IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_checksum_get_algorithm (ImgxferChecksum *self);
IMGXFER_AVAILABLE_IN_ALL
gsize imgxfer_checksum_get_block_size (ImgxferChecksum *self);
IMGXFER_AVAILABLE_IN_ALL
guint64 imgxfer_checksum_get_size (ImgxferChecksum *self);

IMGXFER_AVAILABLE_IN_ALL
void imgxfer_checksum_update (ImgxferChecksum *self,
                              guint64 offset,
                              const void *data,
                              gsize length);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_checksum_update_zero (ImgxferChecksum *self,
                                   guint64 offset,
                                   guint64 length);
IMGXFER_AVAILABLE_IN_ALL
char *imgxfer_checksum_finish (ImgxferChecksum *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferChecksum, imgxfer_checksum_unref)

G_END_DECLS
