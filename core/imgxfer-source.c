/* imgxfer-source.c: checked entry points of the source role
 *
 * The wrappers check ranges and supply what a driver leaves out (extents
 * of a backend that has none), so drivers stay small.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-range-private.h"

G_DEFINE_INTERFACE (ImgxferSource, imgxfer_source, IMGXFER_TYPE_BACKEND)

static void
imgxfer_source_default_init (ImgxferSourceInterface *iface)
{
}

/* A source written in a language binding returns its bytes (read_bytes):
 * they are copied into the caller's buffer, all of them or an error. */
static gboolean
read_through_bytes (ImgxferSource *self, void *buffer, gsize length,
                    guint64 offset, GCancellable *cancellable, GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  ImgxferSourceInterface *iface = IMGXFER_SOURCE_GET_IFACE (self);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize size = 0;
  const void *data;

  if (iface->read_bytes == NULL)
    return _imgxfer_missing_vfunc (backend, "pread or read_bytes", error);

  bytes = iface->read_bytes (self, length, offset, cancellable, &local_error);
  if (bytes == NULL)
    {
      /* A binding's method that returned nothing and raised nothing. */
      if (local_error == NULL)
        g_set_error (
            &local_error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
            "%s: read_bytes returned nothing at offset %" G_GUINT64_FORMAT,
            imgxfer_backend_get_url (backend), offset);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  data = g_bytes_get_data (bytes, &size);
  if (size != length)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ,
                   "%s: read %" G_GSIZE_FORMAT " bytes of %" G_GSIZE_FORMAT
                   " at offset %" G_GUINT64_FORMAT,
                   imgxfer_backend_get_url (backend), size, length, offset);
      return FALSE;
    }
  memcpy (buffer, data, length);
  return TRUE;
}

/**
 * imgxfer_source_pread: (skip)
 * @self: a source
 * @buffer: (out caller-allocates) (array length=length) (element-type guint8):
 *   where to read into
 * @length: bytes to read, at most the backend's maximum block size
 * @offset: where to read from
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads exactly @length bytes at @offset. A range that does not lie
 * inside the image, or a @length above the backend's maximum request
 * (imgxfer_backend_get_block_sizes()), fails with
 * %IMGXFER_ERROR_INVALID_ARGUMENT before the driver is called; a closed
 * backend fails with %G_IO_ERROR_CLOSED; a read that ends early fails
 * with %IMGXFER_ERROR_SHORT_READ. Language bindings, which cannot
 * lend a buffer of a given size, call imgxfer_source_read_bytes() instead.
 *
 * Returns: %TRUE when @buffer holds all @length bytes
 *
 * Since: 0.1
 */
gboolean
imgxfer_source_pread (ImgxferSource *self,
                      void *buffer,
                      gsize length,
                      guint64 offset,
                      GCancellable *cancellable,
                      GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);

  g_return_val_if_fail (IMGXFER_IS_SOURCE (self), FALSE);

  if (!_imgxfer_check_request (backend, "read", offset, length, error))
    return FALSE;
  if (length == 0)
    return TRUE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (IMGXFER_SOURCE_GET_IFACE (self)->pread == NULL)
    return read_through_bytes (self, buffer, length, offset, cancellable,
                               error);

  return IMGXFER_SOURCE_GET_IFACE (self)->pread (self, buffer, length, offset,
                                                 cancellable, error);
}

/**
 * imgxfer_source_read_bytes:
 * @self: a source
 * @length: bytes to read, at most the backend's maximum block size
 * @offset: where to read from
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads exactly @length bytes, like imgxfer_source_pread() and with its
 * errors, into a new buffer: the form language bindings can call. The
 * range is checked before anything is allocated.
 *
 * Returns: (transfer full): the bytes read, or %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
imgxfer_source_read_bytes (ImgxferSource *self,
                           gsize length,
                           guint64 offset,
                           GCancellable *cancellable,
                           GError **error)
{
  g_autofree guint8 *buffer = NULL;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (self), NULL);

  /* Checked before allocating: a length past the image or the request
   * size must be an error, not an abort in g_malloc(). */
  if (!_imgxfer_check_request (IMGXFER_BACKEND (self), "read", offset, length,
                               error))
    return NULL;

  buffer = g_malloc (MAX (length, 1));
  if (!imgxfer_source_pread (self, buffer, length, offset, cancellable,
                             error))
    return NULL;

  return g_bytes_new_take (g_steal_pointer (&buffer), length);
}

static gboolean
source_can_extents (ImgxferSource *self, ImgxferExtentContext context)
{
  ImgxferBackendCaps caps = imgxfer_backend_get_caps (IMGXFER_BACKEND (self));

  if (IMGXFER_SOURCE_GET_IFACE (self)->extents == NULL)
    return FALSE;
  if (context == IMGXFER_EXTENT_CONTEXT_DIRTY)
    return (caps & IMGXFER_BACKEND_CAN_DIRTY) != 0;
  return (caps & IMGXFER_BACKEND_CAN_EXTENTS) != 0;
}

/* Copies the driver's answer into @out, clipped to the asked range, with
 * unknown flags masked and neighbours merged. Fails if the driver broke
 * its contract: that is a driver bug that would otherwise corrupt a copy. */
static gboolean
clip_extents (ImgxferSource *self,
              GArray *raw,
              guint64 offset,
              guint64 end,
              GArray *out,
              GError **error)
{
  const guint known = IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE
                      | IMGXFER_EXTENT_DIRTY;
  guint64 next = offset;

  for (guint i = 0; i < raw->len && next < end; i++)
    {
      const ImgxferExtent *e = &g_array_index (raw, ImgxferExtent, i);

      if (e->start != next || e->length == 0)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                       "%s: driver returned extent %" G_GUINT64_FORMAT
                       "+%" G_GUINT64_FORMAT " where %" G_GUINT64_FORMAT
                       " was expected",
                       imgxfer_backend_get_url (IMGXFER_BACKEND (self)),
                       e->start, e->length, next);
          return FALSE;
        }

      guint64 length = MIN (e->length, end - next);
      imgxfer_extents_append (out, next, length, e->flags & known);
      next += length;
    }

  if (out->len == 0)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: driver returned no extents at offset %"
                   G_GUINT64_FORMAT,
                   imgxfer_backend_get_url (IMGXFER_BACKEND (self)), offset);
      return FALSE;
    }

  return TRUE;
}

/**
 * imgxfer_source_extents:
 * @self: a source
 * @context: which kind of extents
 * @offset: where to start
 * @length: how much to describe at most
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Describes the image from @offset. The extents are contiguous, start at
 * @offset, are merged, and end at or before @offset + @length; they may
 * end early, in which case the caller asks again from where they end.
 * Flags the library does not know are masked. A backend without extents
 * in the zero context (no %IMGXFER_BACKEND_CAN_EXTENTS, or a driver that
 * returns %G_IO_ERROR_NOT_SUPPORTED) reports the range as one data extent;
 * in the dirty context, one without a bitmap
 * (%IMGXFER_BACKEND_CAN_DIRTY) fails with %IMGXFER_ERROR_NOT_SUPPORTED.
 * A range outside the image fails with %IMGXFER_ERROR_INVALID_ARGUMENT,
 * and a driver that breaks the contract of
 * #ImgxferSourceInterface.extents with %IMGXFER_ERROR_DRIVER.
 *
 * Returns: (transfer container) (element-type ImgxferExtent): the
 *   extents, or %NULL with @error set
 *
 * Since: 0.1
 */
GArray *
imgxfer_source_extents (ImgxferSource *self,
                        ImgxferExtentContext context,
                        guint64 offset,
                        guint64 length,
                        GCancellable *cancellable,
                        GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  g_autoptr (GArray) extents = imgxfer_extents_new ();
  g_autoptr (GArray) raw = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (self), NULL);

  if (!_imgxfer_check_range (backend, "extents", offset, length, error))
    return NULL;
  if (length == 0)
    return g_steal_pointer (&extents);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  if (source_can_extents (self, context))
    {
      raw = imgxfer_extents_new ();
      if (IMGXFER_SOURCE_GET_IFACE (self)->extents (
              self, context, offset, length, raw, cancellable, &local_error))
        {
          if (!clip_extents (self, raw, offset, offset + length, extents,
                             error))
            return NULL;
          return g_steal_pointer (&extents);
        }

      if (!g_error_matches (local_error, G_IO_ERROR,
                            G_IO_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }

  if (context == IMGXFER_EXTENT_CONTEXT_DIRTY)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: no dirty bitmap to report dirty extents from",
                   imgxfer_backend_get_url (backend));
      return NULL;
    }

  imgxfer_extents_append (extents, offset, length, IMGXFER_EXTENT_DATA);
  return g_steal_pointer (&extents);
}
