/* imgxfer-destination.c: checked entry points of the destination role
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-range-private.h"

G_DEFINE_INTERFACE (ImgxferDestination, imgxfer_destination,
                    IMGXFER_TYPE_BACKEND)

/* Zeroes written by hand are sent in pieces of this size at most. */
#define ZERO_BUFFER_SIZE (1024 * 1024)

static void
imgxfer_destination_default_init (ImgxferDestinationInterface *iface)
{
}

static gboolean
check_writable (ImgxferDestination *self, GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);

  if (imgxfer_backend_get_caps (backend) & IMGXFER_BACKEND_CAN_WRITE)
    return TRUE;

  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: the image is not open for writing",
               imgxfer_backend_get_url (backend));
  return FALSE;
}

/**
 * imgxfer_destination_pwrite:
 * @self: a destination
 * @buffer: (array length=length) (element-type guint8): the data
 * @length: bytes to write, at most the backend's maximum block size
 * @offset: where to write
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes all of @buffer at @offset. A backend not open for writing (no
 * %IMGXFER_BACKEND_CAN_WRITE) fails with %IMGXFER_ERROR_NOT_SUPPORTED; a
 * range that does not lie inside the image, or a @length above the
 * backend's maximum request, with %IMGXFER_ERROR_INVALID_ARGUMENT; a
 * closed backend with %G_IO_ERROR_CLOSED. The data is durable only after
 * imgxfer_destination_flush().
 *
 * Returns: %TRUE when all of @buffer was written
 *
 * Since: 0.1
 */
gboolean
imgxfer_destination_pwrite (ImgxferDestination *self,
                            const void *buffer,
                            gsize length,
                            guint64 offset,
                            GCancellable *cancellable,
                            GError **error)
{
  g_return_val_if_fail (IMGXFER_IS_DESTINATION (self), FALSE);

  if (!check_writable (self, error)
      || !_imgxfer_check_request (IMGXFER_BACKEND (self), "write", offset,
                                  length, error))
    return FALSE;
  if (length == 0)
    return TRUE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (IMGXFER_DESTINATION_GET_IFACE (self)->pwrite == NULL)
    return _imgxfer_missing_vfunc (IMGXFER_BACKEND (self), "pwrite", error);

  return IMGXFER_DESTINATION_GET_IFACE (self)->pwrite (
      self, buffer, length, offset, cancellable, error);
}

static gboolean
write_zeroes (ImgxferDestination *self,
              guint64 offset,
              guint64 length,
              GCancellable *cancellable,
              GError **error)
{
  g_autofree void *zeroes = g_malloc0 (MIN (length, ZERO_BUFFER_SIZE));

  while (length > 0)
    {
      gsize n = MIN (length, ZERO_BUFFER_SIZE);

      if (!imgxfer_destination_pwrite (self, zeroes, n, offset, cancellable,
                                       error))
        return FALSE;
      offset += n;
      length -= n;
    }
  return TRUE;
}

/**
 * imgxfer_destination_zero:
 * @self: a destination
 * @offset: where to start
 * @length: how many bytes, of any size: requests are split at the
 *   backend's maximum
 * @flags: whether the range may be deallocated
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Makes the range read as zeroes, with the driver's zero request when it
 * declared %IMGXFER_BACKEND_CAN_ZERO, and by writing zeroes otherwise (or
 * when the driver returns %G_IO_ERROR_NOT_SUPPORTED). Never a discard that
 * could leave old data. Fails as imgxfer_destination_pwrite() does.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
imgxfer_destination_zero (ImgxferDestination *self,
                          guint64 offset,
                          guint64 length,
                          ImgxferZeroFlags flags,
                          GCancellable *cancellable,
                          GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  ImgxferDestinationInterface *iface = IMGXFER_DESTINATION_GET_IFACE (self);
  guint32 maximum;

  g_return_val_if_fail (IMGXFER_IS_DESTINATION (self), FALSE);

  if (!check_writable (self, error)
      || !_imgxfer_check_range (backend, "zero", offset, length, error))
    return FALSE;

  if (iface->zero == NULL
      || !(imgxfer_backend_get_caps (backend) & IMGXFER_BACKEND_CAN_ZERO))
    return write_zeroes (self, offset, length, cancellable, error);

  imgxfer_backend_get_block_sizes (backend, NULL, NULL, &maximum);
  while (length > 0)
    {
      g_autoptr (GError) local_error = NULL;
      guint64 n = MIN (length, maximum);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      if (!iface->zero (self, offset, n, flags, cancellable, &local_error))
        {
          if (!g_error_matches (local_error, G_IO_ERROR,
                                G_IO_ERROR_NOT_SUPPORTED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          return write_zeroes (self, offset, length, cancellable, error);
        }
      offset += n;
      length -= n;
    }
  return TRUE;
}

/**
 * imgxfer_destination_flush:
 * @self: a destination
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Makes everything written through this connection durable. A driver
 * without a flush, or that did not declare %IMGXFER_BACKEND_CAN_FLUSH, has
 * nothing to flush and succeeds. A backend not open for writing fails
 * with %IMGXFER_ERROR_NOT_SUPPORTED, a closed one with %G_IO_ERROR_CLOSED.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
imgxfer_destination_flush (ImgxferDestination *self,
                           GCancellable *cancellable,
                           GError **error)
{
  ImgxferDestinationInterface *iface = IMGXFER_DESTINATION_GET_IFACE (self);

  g_return_val_if_fail (IMGXFER_IS_DESTINATION (self), FALSE);

  if (!_imgxfer_check_open (IMGXFER_BACKEND (self), "flush", error)
      || !check_writable (self, error))
    return FALSE;
  /* Said at debug level only: a driver that forgot CAN_FLUSH has its
   * writes called durable when they may not be. */
  if (iface->flush == NULL
      || !(imgxfer_backend_get_caps (IMGXFER_BACKEND (self))
           & IMGXFER_BACKEND_CAN_FLUSH))
    {
      g_debug ("%s: flush does nothing: the %s driver %s",
               imgxfer_backend_get_url (IMGXFER_BACKEND (self)),
               IMGXFER_BACKEND_GET_CLASS (self)->name,
               iface->flush ? "did not declare IMGXFER_BACKEND_CAN_FLUSH"
                            : "has no flush");
      return TRUE;
    }

  return iface->flush (self, cancellable, error);
}
