/* imgxfer-range.c: request checks shared by the role wrappers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-range-private.h"

/* A driver (a subclass written in C, or in a language binding) that lacks
 * a vfunc its role requires gets an error, not a call through NULL. */
gboolean
_imgxfer_missing_vfunc (ImgxferBackend *backend, const char *vfunc,
                        GError **error)
{
  const char *name = IMGXFER_BACKEND_GET_CLASS (backend)->name;

  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: the %s driver (%s) does not implement %s",
               imgxfer_backend_get_url (backend), name ? name : "unnamed",
               G_OBJECT_TYPE_NAME (backend), vfunc);
  return FALSE;
}

/* No request reaches a driver after its close vfunc. */
gboolean
_imgxfer_check_open (ImgxferBackend *backend, const char *what, GError **error)
{
  if (!imgxfer_backend_is_closed (backend))
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: %s after close",
               imgxfer_backend_get_url (backend), what);
  return FALSE;
}

/* The range must lie inside the image. */
gboolean
_imgxfer_check_range (ImgxferBackend *backend,
                      const char *what,
                      guint64 offset,
                      guint64 length,
                      GError **error)
{
  guint64 size = imgxfer_backend_get_size (backend);

  if (!_imgxfer_check_open (backend, what, error))
    return FALSE;

  if (offset > size || length > size - offset)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: %s of %" G_GUINT64_FORMAT " bytes at offset %"
                   G_GUINT64_FORMAT " is beyond the end of the image (%"
                   G_GUINT64_FORMAT " bytes)",
                   imgxfer_backend_get_url (backend), what, length, offset,
                   size);
      return FALSE;
    }
  return TRUE;
}

/* A data request must also fit in one request of the backend. */
gboolean
_imgxfer_check_request (ImgxferBackend *backend,
                        const char *what,
                        guint64 offset,
                        guint64 length,
                        GError **error)
{
  guint32 maximum;

  if (!_imgxfer_check_range (backend, what, offset, length, error))
    return FALSE;

  imgxfer_backend_get_block_sizes (backend, NULL, NULL, &maximum);
  if (length > maximum)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: %s of %" G_GUINT64_FORMAT
                   " bytes is larger than the backend's maximum request (%u)",
                   imgxfer_backend_get_url (backend), what, length, maximum);
      return FALSE;
    }
  return TRUE;
}
