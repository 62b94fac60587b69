/* imgxfer-qemu-bytes.c: where an image's bytes lie on this host, and how
 * qemu names them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-image.h>

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qemu-bytes.h"

void
_imgxfer_local_bytes_clear (ImgxferLocalBytes *bytes)
{
  g_clear_pointer (&bytes->path, g_free);
}

static gboolean
describe_range (ImgxferLocalBytes *bytes, GError **error)
{
  guint64 padded = _imgxfer_sector_round_up (bytes->size);
  GStatBuf st;

  if (g_stat (bytes->path, &st) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot stat %s: %s", bytes->path, g_strerror (saved_errno));
      return FALSE;
    }

  /* A block device's st_size is 0: a range from 0 is the device. */
  bytes->whole
      = bytes->offset == 0
        && (!S_ISREG (st.st_mode) || bytes->size == (guint64)st.st_size);
  bytes->padded_size
      = S_ISREG (st.st_mode) && bytes->offset + padded <= (guint64)st.st_size
            ? padded
            : bytes->size;
  return TRUE;
}

gboolean
_imgxfer_local_bytes_of (ImgxferBackend *protocol, ImgxferLocalBytes *bytes,
                         guint64 *size, GCancellable *cancellable,
                         GError **error)
{
  if (size)
    *size = imgxfer_backend_get_size (protocol);
  if (imgxfer_backend_get_local_file (protocol, &bytes->path, &bytes->offset,
                                      &bytes->size)
      && !describe_range (bytes, error))
    return FALSE;
  /* qemu opens the bytes itself: the protocol level is done with. */
  return imgxfer_backend_close (protocol, IMGXFER_CLOSE_NONE, cancellable,
                                error);
}

gboolean
_imgxfer_local_bytes_find (const char *url, ImgxferOpenOptions *options,
                           ImgxferLocalBytes *bytes, guint64 *size,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) raw_options
      = options ? imgxfer_open_options_copy (options)
                : imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;

  imgxfer_open_options_set_format (raw_options, "raw");
  backend = imgxfer_open (url, raw_options, cancellable, error);
  return backend != NULL
         && _imgxfer_local_bytes_of (backend, bytes, size, cancellable,
                                     error);
}

static JsonNode *
file_node (const ImgxferLocalBytes *bytes)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  if (!bytes->whole)
    {
      /* A raw node restricts the format to a byte range (a tar member). */
      json_builder_set_member_name (builder, "driver");
      json_builder_add_string_value (builder, "raw");
      json_builder_set_member_name (builder, "offset");
      json_builder_add_int_value (builder, bytes->offset);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, bytes->padded_size);
      json_builder_set_member_name (builder, "file");
      json_builder_begin_object (builder);
    }
  json_builder_set_member_name (builder, "driver");
  json_builder_add_string_value (builder, "file");
  json_builder_set_member_name (builder, "filename");
  json_builder_add_string_value (builder, bytes->path);
  if (!bytes->whole)
    json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

char *
_imgxfer_qemu_format_filename (const char *format,
                               gboolean shallow,
                               JsonNode *file)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  if (format != NULL)
    {
      json_builder_set_member_name (builder, "driver");
      json_builder_add_string_value (builder, format);
    }
  if (shallow)
    {
      json_builder_set_member_name (builder, "backing");
      json_builder_add_null_value (builder);
    }
  json_builder_set_member_name (builder, "file");
  json_builder_add_value (builder, file);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  return g_strconcat ("json:", json, NULL);
}

char *
_imgxfer_local_bytes_qemu_filename (const ImgxferLocalBytes *bytes,
                                    const char *format,
                                    gboolean shallow)
{
  return _imgxfer_qemu_format_filename (format, shallow, file_node (bytes));
}
