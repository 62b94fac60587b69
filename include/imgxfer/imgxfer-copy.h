/* imgxfer-copy.h: the copy engine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-copy
 * @title: ImgxferCopy
 * @short_description: the copy engine
 * @see_also: imgxfer_open_destination(), imgxfer_upload()
 *
 * An #ImgxferCopy copies the guest data of a source into a destination,
 * keeping holes and zeroes as such: each of several workers, with its own
 * connections (clones of the backends), claims a unit of work (128 MiB),
 * asks the source's extents for it, reads and writes data, sends zero
 * ranges as zero requests (none when the destination is known to be
 * zero), and leaves holes alone in a shallow copy. Requests never exceed
 * what either backend takes. Every destination connection is flushed at
 * the end. A destination that may reconnect
 * (%IMGXFER_BACKEND_MAY_RECONNECT) is also flushed after each GiB of
 * data it took, and when its driver replaced a connection holding writes
 * not flushed yet (%IMGXFER_ERROR_RECONNECTED) it gets them again, read
 * again from the source, up to its retries
 * (imgxfer_open_options_set_retries()) in a row. The first error, or a
 * cancellation, stops all workers and fails the copy: a copy never reports
 * success after an error.
 *
 * |[<!-- language="C" -->
 * g_autoptr (ImgxferCopy) copy = imgxfer_copy_new (source, destination);
 *
 * imgxfer_copy_set_connections (copy, 4);
 * if (!imgxfer_copy_run (copy, cancellable, &error))
 *   return FALSE;
 * ]|
 */

G_BEGIN_DECLS

/**
 * IMGXFER_TYPE_COPY:
 *
 * The #GType of #ImgxferCopy.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_COPY (imgxfer_copy_get_type ())

/**
 * ImgxferCopy:
 *
 * One copy of a source image into a destination, with its settings. Set
 * it up, then run it once at a time, with imgxfer_copy_run() or
 * imgxfer_copy_run_async(); a copy that is running must not be changed.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ImgxferCopy, imgxfer_copy, IMGXFER, COPY, GObject)

/**
 * ImgxferCopyProgressFunc:
 * @length: bytes of one completed request (read+write, zero, or skipped)
 * @user_data: user data
 *
 * Called from the worker threads once per completed request; the lengths
 * add up to the image size exactly. Must be thread safe and quick.
 *
 * Since: 0.1
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
