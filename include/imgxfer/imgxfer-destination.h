/* imgxfer-destination.h: the role of a backend that can be written
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-destination
 * @title: ImgxferDestination
 * @short_description: the role of a backend that can be written
 * @see_also: #ImgxferBackend, imgxfer_open_destination()
 *
 * An #ImgxferBackend that implements #ImgxferDestination and was opened
 * for writing (%IMGXFER_BACKEND_CAN_WRITE) can be written:
 * imgxfer_destination_pwrite() writes data, imgxfer_destination_zero()
 * makes a range read as zeroes and imgxfer_destination_flush() makes what
 * was written durable. Zeroing is never a discard that could leave old
 * data readable; a driver that cannot zero has zeroes written for it.
 */

G_BEGIN_DECLS

/**
 * ImgxferZeroFlags:
 * @IMGXFER_ZERO_NONE: the range must read as zeroes; keep it allocated
 * @IMGXFER_ZERO_MAY_TRIM: the range may also be deallocated (the
 *   destination is sparse); still never a discard that leaves old data
 *
 * How imgxfer_destination_zero() may make a range read as zeroes.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_ZERO_NONE = 0,
  IMGXFER_ZERO_MAY_TRIM = 1 << 0,
} ImgxferZeroFlags;

/**
 * IMGXFER_TYPE_DESTINATION:
 *
 * The #GType of #ImgxferDestination.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_DESTINATION (imgxfer_destination_get_type ())

/**
 * ImgxferDestination:
 *
 * The role of an #ImgxferBackend that can be written: the image a copy
 * writes to. Callers use imgxfer_destination_pwrite(),
 * imgxfer_destination_zero() and imgxfer_destination_flush(), which check
 * every request before the driver sees it and write zeroes for a driver
 * that cannot zero; drivers implement #ImgxferDestinationInterface.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (ImgxferDestination, imgxfer_destination, IMGXFER,
                     DESTINATION, GObject)

/**
 * ImgxferDestinationInterface:
 * @g_iface: the parent interface
 * @pwrite: write all of @buffer at @offset. The caller checked that the
 *   backend is writable, the range and the maximum block size; a write
 *   that ends early is an error naming the URL and the offset.
 * @zero: make @offset..+@length read as zeroes, without sending data;
 *   with %IMGXFER_ZERO_MAY_TRIM the range may be deallocated, but never
 *   by a discard after which old data could show. Only called when the
 *   backend declared %IMGXFER_BACKEND_CAN_ZERO. Returning
 *   %G_IO_ERROR_NOT_SUPPORTED (or a %NULL vfunc) makes the caller write
 *   zeroes instead. The caller checked the range and splits requests at
 *   the backend's maximum block size.
 * @flush: make everything written through this connection durable. Only
 *   called when the backend declared %IMGXFER_BACKEND_CAN_FLUSH; %NULL
 *   means nothing to do.
 *
 * A driver implements this to be written to, with @pwrite at least.
 *
 * Since: 0.1
 */
struct _ImgxferDestinationInterface
{
  GTypeInterface g_iface;

  gboolean (*pwrite) (ImgxferDestination *self,
                      const void *buffer,
                      gsize length,
                      guint64 offset,
                      GCancellable *cancellable,
                      GError **error);
  gboolean (*zero) (ImgxferDestination *self,
                    guint64 offset,
                    guint64 length,
                    ImgxferZeroFlags flags,
                    GCancellable *cancellable,
                    GError **error);
  gboolean (*flush) (ImgxferDestination *self,
                     GCancellable *cancellable,
                     GError **error);

  /*< private >*/
  gpointer padding[8];
};

IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_destination_pwrite (ImgxferDestination *self,
                                     const void *buffer,
                                     gsize length,
                                     guint64 offset,
                                     GCancellable *cancellable,
                                     GError **error);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_destination_zero (ImgxferDestination *self,
                                   guint64 offset,
                                   guint64 length,
                                   ImgxferZeroFlags flags,
                                   GCancellable *cancellable,
                                   GError **error);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_destination_flush (ImgxferDestination *self,
                                    GCancellable *cancellable,
                                    GError **error);

G_END_DECLS
