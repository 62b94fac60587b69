/* imgxfer-copy.h: the copy engine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_COPY (imgxfer_copy_get_type ())
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ImgxferCopy, imgxfer_copy, IMGXFER, COPY, GObject)

/**
 * ImgxferCopyProgressFunc:
 * @length: bytes of one completed request (read+write, zero, or skipped)
 * @user_data: user data
 *
 * Called from the worker threads once per completed request; the lengths
 * add up to the image size exactly. Must be thread safe and quick.
 */
typedef void (*ImgxferCopyProgressFunc) (guint64 length, gpointer user_data);

IMGXFER_AVAILABLE_IN_ALL
ImgxferCopy *imgxfer_copy_new (ImgxferBackend *source,
                               ImgxferBackend *destination);

/* Workers, each with its own connection (default 4, never more than
 * either backend allows). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_connections (ImgxferCopy *self, guint connections);
/* Largest read/write request (default 1 MiB, or the larger block size
 * either backend prefers; bounded by both maximums). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_request_size (ImgxferCopy *self, gsize request_size);
/* The destination already reads as zeroes: skip zeroing. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_target_is_zero (ImgxferCopy *self, gboolean is_zero);
/* Copy only the top layer: holes are left untouched. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_shallow (ImgxferCopy *self, gboolean shallow);
/* Copy only the dirty extents of the source's bitmap. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_dirty_only (ImgxferCopy *self, gboolean dirty_only);
/* Detect zero blocks in data and let zeroing deallocate (default TRUE). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_sparse (ImgxferCopy *self, gboolean sparse);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_progress_func (ImgxferCopy *self,
                                     ImgxferCopyProgressFunc func,
                                     gpointer user_data,
                                     GDestroyNotify notify);

/* Computes the source's checksum in the same pass. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_set_checksum (ImgxferCopy *self,
                                ImgxferChecksum *checksum);

/* Progress of an async run is also emitted on the caller's main context,
 * throttled, as the "progress" signal: void (*) (ImgxferCopy *, guint64 done,
 * guint64 total, gpointer user_data). */
IMGXFER_AVAILABLE_IN_ALL
guint64 imgxfer_copy_get_total (ImgxferCopy *self);
IMGXFER_AVAILABLE_IN_ALL
guint64 imgxfer_copy_get_done (ImgxferCopy *self);

IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_copy_run (ImgxferCopy *self,
                           GCancellable *cancellable,
                           GError **error);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_copy_run_async (ImgxferCopy *self,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_copy_run_finish (ImgxferCopy *self,
                                  GAsyncResult *result,
                                  GError **error);

G_END_DECLS
