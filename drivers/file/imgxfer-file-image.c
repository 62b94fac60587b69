/* imgxfer-file-image.c: creating and describing raw images in local files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/common/imgxfer-image-lock.h"
#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-file-backend.h"

/* The file is emptied only once qemu's locks say that no one else uses
 * it; the backend opened next takes them again for as long as it writes. */
static gboolean
create_file (const char *path, guint64 size, GError **error)
{
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  g_autoptr (ImgxferImageLock) lock = NULL;
  int saved_errno;

  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot create %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }

  lock = _imgxfer_image_lock_for_write (fd, path, error);
  if (lock == NULL)
    {
      close (fd);
      return FALSE;
    }

  if (ftruncate (fd, 0) < 0 || ftruncate (fd, size) < 0)
    {
      saved_errno = errno;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot resize %s to %" G_GUINT64_FORMAT " bytes: %s", path,
                   size, g_strerror (saved_errno));
      return FALSE;
    }

  return g_close (fd, error);
}

/* A new sparse file of @size bytes rounded up to 512, as qemu-img create
 * makes it (the file is seen at that size anyway), open for writing. */
ImgxferBackend *
_imgxfer_file_create (ImgxferBackendClass *klass, const char *url,
                      const char *format, guint64 size,
                      const char *backing_file, const char *backing_format,
                      ImgxferOpenOptions *options, GCancellable *cancellable,
                      GError **error)
{
  g_autofree char *path = _imgxfer_local_path_for_create (url, error);

  if (path == NULL
      || !create_file (path, _imgxfer_sector_round_up (size), error))
    return NULL;
  return g_initable_new (G_TYPE_FROM_CLASS (klass), cancellable, error, "url",
                         url, "options", options, NULL);
}

/* What `qemu-img info` says of a raw file: its size, and the space it
 * takes on disk. */
JsonNode *
_imgxfer_file_info (ImgxferBackendClass *klass, const char *url,
                    ImgxferOpenOptions *options, GCancellable *cancellable,
                    GError **error)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (JsonObject) object = json_object_new ();
  g_autofree char *path = NULL;
  JsonNode *node;
  GStatBuf st;

  backend = g_initable_new (G_TYPE_FROM_CLASS (klass), cancellable, error,
                            "url", url, "options", options, NULL);
  if (backend == NULL)
    return NULL;

  json_object_set_string_member (object, "filename", url);
  json_object_set_string_member (object, "format", "raw");
  json_object_set_int_member (object, "virtual-size",
                              imgxfer_backend_get_size (backend));
  if (imgxfer_backend_get_local_file (backend, &path, NULL, NULL)
      && g_stat (path, &st) == 0 && S_ISREG (st.st_mode))
    json_object_set_int_member (object, "actual-size",
                                (gint64)st.st_blocks * 512);
  json_object_set_boolean_member (object, "dirty-flag", FALSE);

  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, object);
  return node;
}
