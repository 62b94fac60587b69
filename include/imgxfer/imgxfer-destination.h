/* imgxfer-destination.h: the role of a backend that can be written
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

/**
 * ImgxferZeroFlags:
 * @IMGXFER_ZERO_NONE: the range must read as zeroes; keep it allocated
 * @IMGXFER_ZERO_MAY_TRIM: the range may also be deallocated (the
 *   destination is sparse); still never a discard that leaves old data
 */
typedef enum /*< flags >*/
{
  IMGXFER_ZERO_NONE = 0,
  IMGXFER_ZERO_MAY_TRIM = 1 << 0,
} ImgxferZeroFlags;

#define IMGXFER_TYPE_DESTINATION (imgxfer_destination_get_type ())
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (ImgxferDestination, imgxfer_destination, IMGXFER,
                     DESTINATION, GObject)

/**
 * ImgxferDestinationInterface:
 * @g_iface: the parent interface
 * @pwrite: write all of @buffer at @offset. The caller checked the range
 *   and the maximum block size.
 * @zero: make @offset..+@length read as zeroes, without sending data.
 *   Returning %G_IO_ERROR_NOT_SUPPORTED (or a %NULL vfunc) makes the caller
 *   write zeroes instead. The caller checked the range and splits requests
 *   at the backend's maximum block size.
 * @flush: make everything written durable. %NULL means nothing to do.
 *
 * A driver implements this to be written to.
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
