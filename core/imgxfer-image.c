/* imgxfer-image.c: opening, creating and describing images
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-driver-private.h"
#include "imgxfer-qcow2-writer-private.h"
#include "imgxfer-qemu-img-private.h"

#define PROBE_SIZE 512

static gboolean
is_raw (const char *format)
{
  return format == NULL || g_ascii_strcasecmp (format, "raw") == 0;
}

/* A plain path or a file: URL. */
static gboolean
is_local_path (const char *url)
{
  g_autofree char *scheme = _imgxfer_url_scheme (url);

  return scheme[0] == '\0' || g_str_equal (scheme, "file");
}

/* A member of an archive is opened by the driver named "tar". */
static GType
protocol_driver (const char *url,
                 ImgxferOpenOptions *options,
                 GError **error)
{
  GType type;

  if (imgxfer_open_options_get_member (options) == NULL
      || !is_local_path (url))
    return imgxfer_driver_lookup_url (url, error);

  type = imgxfer_driver_lookup_name ("tar");
  if (type == G_TYPE_INVALID)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                 "%s: no driver can read archive members", url);
  return type;
}

/**
 * imgxfer_probe_format:
 * @source: a protocol-level source (raw bytes)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): the format named by the image's
 *   first bytes, "raw" when none; %NULL on a read error
 */
const char *
imgxfer_probe_format (ImgxferBackend *source,
                      GCancellable *cancellable,
                      GError **error)
{
  guint8 head[PROBE_SIZE] = { 0 };
  gsize n = MIN (imgxfer_backend_get_size (source), PROBE_SIZE);
  static const guint8 vdi_signature[] = { 0x7f, 0x10, 0xda, 0xbe };

  if (!imgxfer_source_pread (IMGXFER_SOURCE (source), head, n, 0,
                             cancellable, error))
    return NULL;

  if (memcmp (head, "QFI\xfb\0\0\0", 7) == 0 && (head[7] == 2 || head[7] == 3))
    return "qcow2";
  if (memcmp (head, "QFI\xfb", 4) == 0)
    return "qcow";
  if (memcmp (head, "KDMV", 4) == 0
      || memcmp (head, "# Disk DescriptorFile", 21) == 0)
    return "vmdk";
  if (memcmp (head, "vhdxfile", 8) == 0)
    return "vhdx";
  if (memcmp (head, "conectix", 8) == 0)
    return "vpc";
  if (memcmp (head, "QED\0", 4) == 0)
    return "qed";
  if (memcmp (head + 0x40, vdi_signature, 4) == 0)
    return "vdi";
  /* Both of Parallels' signatures, as qemu probes them (version 2). */
  if ((memcmp (head, "WithoutFreeSpace", 16) == 0
       || memcmp (head, "WithouFreSpacExt", 16) == 0)
      && memcmp (head + 16, "\2\0\0\0", 4) == 0)
    return "parallels";
  if (memcmp (head, "LUKS\xba\xbe", 6) == 0)
    return "luks";
  return "raw";
}

/* Opens the image through the format driver for @format, which finds the
 * bytes itself through the protocol driver. */
static ImgxferBackend *
open_format (const char *url,
             ImgxferOpenOptions *options,
             const char *format,
             GCancellable *cancellable,
             GError **error)
{
  g_autoptr (ImgxferOpenOptions) format_options
      = imgxfer_open_options_copy (options);
  GType type = _imgxfer_driver_lookup_format_for (url, format, error);

  if (type == G_TYPE_INVALID)
    return NULL;

  imgxfer_open_options_set_format (format_options, format);
  return g_initable_new (type, cancellable, error,
                         "url", url,
                         "options", format_options,
                         NULL);
}

/**
 * imgxfer_open:
 * @url: a path or a URL any registered driver opens
 * @options: (nullable): how to open it; %NULL for a read-only source with
 *   a probed format
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens an image. A local image (a file or a tar member) whose format is
 * not raw, given or probed on a read-only source, is opened through the
 * driver for that format, stacked on the protocol driver. A destination's
 * format is never probed.
 *
 * Returns: (transfer full): a backend implementing #ImgxferSource and,
 *   when writable, #ImgxferDestination
 */
ImgxferBackend *
imgxfer_open (const char *url,
              ImgxferOpenOptions *options,
              GCancellable *cancellable,
              GError **error)
{
  g_autoptr (ImgxferOpenOptions) default_options = NULL;
  g_autoptr (ImgxferBackend) protocol = NULL;
  const char *format;
  GType type;

  g_return_val_if_fail (url != NULL, NULL);

  if (options == NULL)
    options = default_options = imgxfer_open_options_new ();
  format = imgxfer_open_options_get_format (options);

  /* A format given is stacked on any protocol; its driver says which it
   * can read the format over. */
  if (!is_raw (format))
    return open_format (url, options, format, cancellable, error);

  type = protocol_driver (url, options, error);
  if (type == G_TYPE_INVALID)
    return NULL;

  protocol = g_initable_new (type, cancellable, error,
                             "url", url,
                             "options", options,
                             NULL);
  if (protocol == NULL)
    return NULL;

  /* Only local sources of unknown format are probed: remote drivers
   * already give guest data, and a destination is never guessed. */
  if (format == NULL && !imgxfer_open_options_get_writable (options)
      && IMGXFER_BACKEND_GET_CLASS (protocol)->formats == NULL
      && imgxfer_backend_get_local_file (protocol, NULL, NULL, NULL))
    {
      format = imgxfer_probe_format (protocol, cancellable, error);
      if (format == NULL)
        return NULL;
      if (!is_raw (format))
        {
          g_clear_object (&protocol);
          return open_format (url, options, format, cancellable, error);
        }
    }

  return g_steal_pointer (&protocol);
}

/* At @size rounded up to 512 bytes, as qemu-img create makes it: a raw
 * file is seen at that size anyway (see the file driver). */
static gboolean
create_raw (const char *path, guint64 size, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int saved_errno;

  size = (size + 511) & ~(guint64)511;

  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot create %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }

  if (ftruncate (fd, size) < 0)
    {
      saved_errno = errno;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot resize %s to %" G_GUINT64_FORMAT " bytes: %s",
                   path, size, g_strerror (saved_errno));
      return FALSE;
    }

  return g_close (fd, error);
}

static gboolean
create_with_qemu_img (const char *path,
                      const char *format,
                      guint64 size,
                      const char *backing_file,
                      const char *backing_format,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *size_str = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  g_auto (GStrv) argv = NULL;

  g_strv_builder_add_many (builder, "create", "-q", "-f", format, NULL);
  if (backing_file != NULL)
    {
      g_strv_builder_add_many (builder, "-b", backing_file, NULL);
      if (backing_format != NULL)
        g_strv_builder_add_many (builder, "-F", backing_format, NULL);
    }
  g_strv_builder_add_many (builder, path, size_str, NULL);
  argv = g_strv_builder_end (builder);

  return _imgxfer_qemu_img ((const char *const *)argv, NULL, cancellable,
                            error);
}

/* A new qcow2 image is written by imgxfer itself, except where qemu's
 * qcow2 driver does more: a backing file, or direct I/O. */
static gboolean
writes_qcow2_itself (const char *format, const char *backing_file,
                     ImgxferOpenOptions *options)
{
  return g_strcmp0 (format, "qcow2") == 0 && backing_file == NULL
         && !imgxfer_open_options_get_direct (options);
}

/* The file the file driver opens for @url: a file: URL is decoded the
 * same way, so that the image created is the one opened afterwards. */
static char *
local_path (const char *url, GError **error)
{
  if (g_ascii_strncasecmp (url, "file:", 5) == 0)
    return g_filename_from_uri (url, NULL, error);
  return g_strdup (url);
}

/**
 * imgxfer_create:
 * @url: where to create the image (a path or file: URL)
 * @format: (nullable): its format, raw when %NULL
 * @size: its virtual size
 * @backing_file: (nullable): a backing file (formats that have them)
 * @backing_format: (nullable): the backing file's format
 * @options: (nullable): how to open it afterwards (always writable)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a new sparse image, replacing any file there, and opens it for
 * writing. The backend reports %IMGXFER_BACKEND_IS_ZERO when nothing shows
 * through from a backing file.
 *
 * A qcow2 image without a backing file, unless @options ask for direct
 * I/O, is written by imgxfer itself rather than through qemu: the backend
 * is then an #ImgxferDestination only, and the image is consistent once
 * it has been flushed. Open it again with imgxfer_open() to read it.
 *
 * Returns: (transfer full): the open destination
 */
ImgxferBackend *
imgxfer_create (const char *url,
                const char *format,
                guint64 size,
                const char *backing_file,
                const char *backing_format,
                ImgxferOpenOptions *options,
                GCancellable *cancellable,
                GError **error)
{
  g_autoptr (ImgxferOpenOptions) open_options = NULL;
  g_autofree char *path = NULL;
  ImgxferBackend *backend;

  g_return_val_if_fail (url != NULL, NULL);

  if (!is_local_path (url))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: only local images can be created", url);
      return NULL;
    }
  path = local_path (url, error);
  if (path == NULL)
    return NULL;

  if (is_raw (format) && backing_file != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: a raw image cannot have a backing file", url);
      return NULL;
    }

  open_options = options ? imgxfer_open_options_copy (options)
                         : imgxfer_open_options_new ();
  imgxfer_open_options_set_writable (open_options, TRUE);
  imgxfer_open_options_set_format (open_options, is_raw (format) ? "raw"
                                                                 : format);

  if (writes_qcow2_itself (format, backing_file, open_options))
    return _imgxfer_qcow2_writer_create (url, path, size, open_options,
                                         cancellable, error);

  if (is_raw (format) ? !create_raw (path, size, error)
                      : !create_with_qemu_img (path, format, size,
                                               backing_file, backing_format,
                                               cancellable, error))
    return NULL;

  backend = imgxfer_open (url, open_options, cancellable, error);
  if (backend != NULL && backing_file == NULL)
    imgxfer_backend_set_caps (backend, imgxfer_backend_get_caps (backend)
                                           | IMGXFER_BACKEND_IS_ZERO);
  return backend;
}

/**
 * imgxfer_image_extents:
 * @source: an open source
 * @context: which extents
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type ImgxferExtent): every
 *   extent of the image, merged
 */
GArray *
imgxfer_image_extents (ImgxferBackend *source,
                       ImgxferExtentContext context,
                       GCancellable *cancellable,
                       GError **error)
{
  g_autoptr (GArray) all = imgxfer_extents_new ();
  guint64 size = imgxfer_backend_get_size (source);
  guint64 offset = 0;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (source), NULL);

  while (offset < size)
    {
      g_autoptr (GArray) part = imgxfer_source_extents (
          IMGXFER_SOURCE (source), context, offset, size - offset,
          cancellable, error);

      if (part == NULL)
        return NULL;
      for (guint i = 0; i < part->len; i++)
        {
          const ImgxferExtent *e = &g_array_index (part, ImgxferExtent, i);
          imgxfer_extents_append (all, e->start, e->length, e->flags);
          offset = e->start + e->length;
        }
    }

  return g_steal_pointer (&all);
}

/**
 * imgxfer_extents_to_json:
 * @extents: (element-type ImgxferExtent): extents
 * @context: the context they were asked in
 *
 * Returns: (transfer full): a JSON array in the form the imageio protocol
 *   uses
 */
JsonNode *
imgxfer_extents_to_json (GArray *extents, ImgxferExtentContext context)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (guint i = 0; i < extents->len; i++)
    {
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "start");
      json_builder_add_int_value (builder, e->start);
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, e->length);
      if (context == IMGXFER_EXTENT_CONTEXT_DIRTY)
        {
          json_builder_set_member_name (builder, "dirty");
          json_builder_add_boolean_value (builder,
                                          e->flags & IMGXFER_EXTENT_DIRTY);
        }
      json_builder_set_member_name (builder, "zero");
      json_builder_add_boolean_value (builder, e->flags & IMGXFER_EXTENT_ZERO);
      if (context == IMGXFER_EXTENT_CONTEXT_ZERO)
        {
          json_builder_set_member_name (builder, "hole");
          json_builder_add_boolean_value (builder,
                                          e->flags & IMGXFER_EXTENT_HOLE);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  return json_builder_get_root (builder);
}
