/* imgxfer-checksum.h: blkhash checksums of guest-visible data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-checksum
 * @title: Checksums
 * @short_description: blkhash checksums of guest-visible data
 * @see_also: imgxfer_copy_set_checksum()
 *
 * The checksum of an image that ovirt-imageio computes (its `/checksum`
 * request and its client's checksum()): the image's guest-visible data is
 * cut into blocks of a block size (4 MiB by default), each block is
 * hashed (the last one at its real length), and the checksum is the
 * digest of the concatenated block digests, with the same algorithm
 * (blake2b with a 32-byte digest by default). Zero blocks need not be
 * read, so two images with the same data have the same checksum whatever
 * their format and allocation.
 *
 * imgxfer_checksum_compute() reads an image and computes its checksum
 * with several threads; an #ImgxferChecksum computes one from data given
 * piece by piece, as a copy passes it by.
 */

G_BEGIN_DECLS

/**
 * IMGXFER_CHECKSUM_DEFAULT_ALGORITHM:
 *
 * The digest algorithm of a checksum when none is given, as
 * ovirt-imageio's: blake2b with a 32-byte digest.
 *
 * Since: 0.1
 */
#define IMGXFER_CHECKSUM_DEFAULT_ALGORITHM "blake2b"

/**
 * IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE:
 *
 * The block size of a checksum when none is given: 4 MiB, as
 * ovirt-imageio's.
 *
 * Since: 0.1
 */
#define IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE (4 * 1024 * 1024)

/**
 * ImgxferChecksum:
 *
 * A blkhash checksum computed incrementally from the data of an image as
 * it passes by (during a copy), so that no second read is needed. It is
 * reference counted and thread safe.
 *
 * Since: 0.1
 */
typedef struct _ImgxferChecksum ImgxferChecksum;

/**
 * IMGXFER_TYPE_CHECKSUM:
 *
 * The boxed #GType of #ImgxferChecksum.
 *
 * Since: 0.1
 */
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
