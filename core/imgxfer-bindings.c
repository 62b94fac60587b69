/* imgxfer-bindings.c: calls shaped for language bindings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-bindings.h>

#include "imgxfer-range-private.h"

/**
 * imgxfer_source_read_bytes:
 * @self: a source
 * @length: bytes to read, at most the backend's maximum block size
 * @offset: where to read from
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads exactly @length bytes, like imgxfer_source_pread(), into a new
 * buffer: the form language bindings can call.
 *
 * Returns: (transfer full): the bytes read, or %NULL on error
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
