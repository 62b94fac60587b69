/* imgxfer-source.h: the role of a backend that can be read
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-extent.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-source
 * @title: ImgxferSource
 * @short_description: the role of a backend that can be read
 * @see_also: #ImgxferBackend, #ImgxferExtent
 *
 * An #ImgxferBackend that implements #ImgxferSource can be read: copied
 * from, checksummed, compared. imgxfer_source_pread() reads a range,
 * imgxfer_source_extents() tells which ranges hold data, read as zeroes,
 * are holes, or changed since a bitmap was made. The wrappers check each
 * range against the image's size and request sizes before a driver is
 * called, and report a backend without extents as all data.
 */

G_BEGIN_DECLS

/**
 * IMGXFER_TYPE_SOURCE:
 *
 * The #GType of #ImgxferSource.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_SOURCE (imgxfer_source_get_type ())

/**
 * ImgxferSource:
 *
 * The role of an #ImgxferBackend that can be read: an image to copy from,
 * checksum, compare or describe. Callers use imgxfer_source_pread(),
 * imgxfer_source_read_bytes() and imgxfer_source_extents(), which check
 * every request before the driver sees it; drivers implement
 * #ImgxferSourceInterface.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (ImgxferSource, imgxfer_source, IMGXFER, SOURCE, GObject)

/**
 * ImgxferSourceInterface:
 * @g_iface: the parent interface
 * @pread: read exactly @length bytes at @offset. The caller checked that
 *   the range lies inside the image and that @length is not above the
 *   backend's maximum block size. A short read is an error
 *   (%IMGXFER_ERROR_SHORT_READ) naming the URL and the offset.
 * @extents: describe the image from @offset, covering at most @length
 *   bytes, by appending to @extents (an array of #ImgxferExtent). The first
 *   extent must start at @offset; the driver may stop early (the caller
 *   asks again from where it stopped) and may return more than asked (the
 *   caller clips). Returning %G_IO_ERROR_NOT_SUPPORTED (or leaving the vfunc
 *   %NULL) makes the caller report the range as data, in the zero context.
 *   Only called when the backend declared %IMGXFER_BACKEND_CAN_EXTENTS (or
 *   %IMGXFER_BACKEND_CAN_DIRTY for the dirty context).
 * @read_bytes: the same read as @pread, returning the bytes instead of
 *   filling a buffer: the form a language binding can implement (a Python
 *   subclass defines `do_read_bytes`). Called only when @pread is %NULL;
 *   returning other than @length bytes is an error
 *   (%IMGXFER_ERROR_SHORT_READ). Since: 0.1
 *
 * A driver implements this to be read from, with @pread or @read_bytes;
 * a source with neither fails every read with %IMGXFER_ERROR_NOT_SUPPORTED.
 *
 * Since: 0.1
 */
struct _ImgxferSourceInterface
{
  GTypeInterface g_iface;

  gboolean (*pread) (ImgxferSource *self,
                     void *buffer,
                     gsize length,
                     guint64 offset,
                     GCancellable *cancellable,
                     GError **error);
  gboolean (*extents) (ImgxferSource *self,
                       ImgxferExtentContext context,
                       guint64 offset,
                       guint64 length,
                       GArray *extents,
                       GCancellable *cancellable,
                       GError **error);
  GBytes *(*read_bytes) (ImgxferSource *self, gsize length, guint64 offset,
                         GCancellable *cancellable, GError **error);

  /*< private >*/
  gpointer padding[7];
};

IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_source_pread (ImgxferSource *self,
                               void *buffer,
                               gsize length,
                               guint64 offset,
                               GCancellable *cancellable,
                               GError **error);
IMGXFER_AVAILABLE_IN_ALL
GArray *imgxfer_source_extents (ImgxferSource *self,
                                ImgxferExtentContext context,
                                guint64 offset,
                                guint64 length,
                                GCancellable *cancellable,
                                GError **error);

/* The same read into a new buffer: the form language bindings, which
 * cannot lend a buffer, call. */
IMGXFER_AVAILABLE_IN_ALL
GBytes *imgxfer_source_read_bytes (ImgxferSource *self,
                                   gsize length,
                                   guint64 offset,
                                   GCancellable *cancellable,
                                   GError **error);

G_END_DECLS
