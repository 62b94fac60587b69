/* imgxfer-image.c: opening, creating and describing images
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-source.h>
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-driver-private.h"

gboolean
_imgxfer_format_is_raw (const char *format)
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

/* A member of a local archive is opened by the driver of archives. */
static GType
protocol_driver (const char *url,
                 ImgxferOpenOptions *options,
                 GError **error)
{
  GType type;

  if (imgxfer_open_options_get_member (options) == NULL
      || !is_local_path (url))
    return imgxfer_driver_lookup_url (url, error);

  type = _imgxfer_driver_lookup_members ();
  if (type == G_TYPE_INVALID)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                 "%s: no driver can read archive members", url);
  return type;
}

typedef struct
{
  const char *url;
  ImgxferOpenOptions *options;
  ImgxferBackend *protocol; /* probed, for the driver that takes it */
  GCancellable *cancellable;
} OpenRequest;

static gpointer
open_with (ImgxferBackendClass *klass, gpointer user_data, GError **error)
{
  OpenRequest *request = user_data;
  g_autoptr (ImgxferBackend) backend = NULL;
  gboolean opened;

  backend = g_object_new (G_TYPE_FROM_CLASS (klass),
                          "url", request->url,
                          "options", request->options,
                          NULL);
  _imgxfer_backend_hand_protocol (backend,
                                  g_steal_pointer (&request->protocol));
  opened = g_initable_init (G_INITABLE (backend), request->cancellable, error);
  request->protocol = _imgxfer_backend_take_back_protocol (backend);
  return opened ? g_steal_pointer (&backend) : NULL;
}

/* Opens the image through the first format driver for @format that takes
 * it; each finds the bytes itself through the protocol driver, or takes
 * @protocol (taken, may be NULL), the protocol level opened to probe the
 * format. */
static ImgxferBackend *
open_format (const char *url,
             ImgxferOpenOptions *options,
             const char *format,
             ImgxferBackend *protocol,
             GCancellable *cancellable,
             GError **error)
{
  g_autoptr (ImgxferOpenOptions) format_options
      = imgxfer_open_options_copy (options);
  OpenRequest request = { url, format_options, protocol, cancellable };
  g_autoptr (ImgxferBackend) backend = NULL;

  imgxfer_open_options_set_format (format_options, format);
  backend = _imgxfer_driver_ask_format (format, url, open_with, &request,
                                        error);
  /* Not taken: closed here, its error standing only when all went well. */
  if (request.protocol != NULL
      && !imgxfer_backend_close (request.protocol, IMGXFER_CLOSE_NONE,
                                 cancellable, backend ? error : NULL))
    g_clear_object (&backend);
  g_clear_object (&request.protocol);
  return g_steal_pointer (&backend);
}

/**
 * imgxfer_open:
 * @url: a path or a URL any registered driver opens
 * @options: (nullable): how to open it; %NULL for a read-only source with
 *   a probed format
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens an image. An image whose format is not raw, given (over any
 * protocol) or probed (on a local read-only source), is opened through
 * the drivers for that format, stacked on the protocol driver; a format
 * driver refuses the protocols it cannot read the format over. A
 * destination's format is never probed, nor a remote image's. With an
 * archive member in the options, a local @url is the archive.
 *
 * Fails with %IMGXFER_ERROR_INVALID_ARGUMENT when @url does not parse,
 * %IMGXFER_ERROR_UNKNOWN_URL when no driver opens it,
 * %IMGXFER_ERROR_NOT_SUPPORTED when no driver opens its format, and with
 * the driver's errors (%IMGXFER_ERROR_NOT_FOUND,
 * %IMGXFER_ERROR_BAD_IMAGE, %IMGXFER_ERROR_IN_USE, %G_IO_ERROR...).
 *
 * Returns: (transfer full): a backend implementing #ImgxferSource and,
 *   when writable, #ImgxferDestination, or %NULL with @error set
 *
 * Since: 0.1
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

  g_return_val_if_fail (url != NULL, NULL);

  if (options == NULL)
    options = default_options = imgxfer_open_options_new ();
  format = imgxfer_open_options_get_format (options);

  /* A format given is stacked on any protocol; its drivers say which
   * they can read the format over. */
  if (!_imgxfer_format_is_raw (format))
    return open_format (url, options, format, NULL, cancellable, error);

  protocol = _imgxfer_open_protocol (url, options, &format, cancellable, error);
  if (protocol == NULL)
    return NULL;
  if (format != NULL)
    return open_format (url, options, format, g_steal_pointer (&protocol),
                        cancellable, error);
  return g_steal_pointer (&protocol);
}

/* Opens the protocol level of @url (the bytes a format driver would read)
 * and, when @options name no format, probes it: *@probed is the format
 * found, or %NULL for raw data and images not probed. */
ImgxferBackend *
_imgxfer_open_protocol (const char *url, ImgxferOpenOptions *options,
                        const char **probed, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr (ImgxferBackend) protocol = NULL;
  const char *format;
  GType type;

  *probed = NULL;
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
  if (imgxfer_open_options_get_format (options) == NULL
      && !imgxfer_open_options_get_writable (options)
      && IMGXFER_BACKEND_GET_CLASS (protocol)->formats == NULL
      && imgxfer_backend_get_local_file (protocol, NULL, NULL, NULL))
    {
      format = imgxfer_probe_format (protocol, cancellable, error);
      if (format == NULL)
        return NULL;
      if (!_imgxfer_format_is_raw (format))
        *probed = format;
    }

  return g_steal_pointer (&protocol);
}

/* The driver that creates raw images at @url: its protocol driver. */
static ImgxferBackend *
create_raw (const char *url, guint64 size, ImgxferOpenOptions *options,
            GCancellable *cancellable, GError **error)
{
  GType type = imgxfer_driver_lookup_url (url, error);
  g_autoptr (GTypeClass) klass = NULL;
  ImgxferBackendClass *backend_class;

  if (type == G_TYPE_INVALID)
    return NULL;
  klass = g_type_class_ref (type);
  backend_class = (ImgxferBackendClass *)klass;
  if (backend_class->create == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the %s driver cannot create images", url,
                   backend_class->name);
      return NULL;
    }
  return backend_class->create (backend_class, url, NULL, size, NULL, NULL,
                                options, cancellable, error);
}

typedef struct
{
  const char *url;
  const char *format;
  guint64 size;
  const char *backing_file;
  const char *backing_format;
  ImgxferOpenOptions *options;
  GCancellable *cancellable;
} CreateRequest;

static gpointer
create_with (ImgxferBackendClass *klass, gpointer user_data, GError **error)
{
  CreateRequest *r = user_data;

  if (klass->create == NULL)
    return NULL;
  return klass->create (klass, r->url, r->format, r->size, r->backing_file,
                        r->backing_format, r->options, r->cancellable, error);
}

/* The first driver of @format that creates this image. */
static ImgxferBackend *
create_format (const char *url,
               const char *format,
               guint64 size,
               const char *backing_file,
               const char *backing_format,
               ImgxferOpenOptions *options,
               GCancellable *cancellable,
               GError **error)
{
  CreateRequest request = { url, format, size, backing_file, backing_format,
                            options, cancellable };
  g_autoptr (GError) local_error = NULL;
  ImgxferBackend *backend;

  backend = _imgxfer_driver_ask_format (format, url, create_with, &request,
                                        &local_error);
  if (backend == NULL && local_error == NULL)
    g_set_error (&local_error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                 "%s: no driver creates %s images", url, format);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return backend;
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
 * writing. A raw image is made by the driver of @url's scheme (the file
 * driver for a path), an image of another format by the first driver for
 * that format that makes it (see imgxfer_driver_list_format()). The
 * backend reports %IMGXFER_BACKEND_IS_ZERO when nothing shows through from
 * a backing file. It does not check that @url is not an image being read:
 * imgxfer_open_destination() does.
 *
 * A raw image with a backing file fails with
 * %IMGXFER_ERROR_INVALID_ARGUMENT, a format or a URL no driver creates
 * with %IMGXFER_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer full): the open destination, or %NULL with @error
 *   set
 *
 * Since: 0.1
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
  ImgxferBackend *backend;

  g_return_val_if_fail (url != NULL, NULL);

  if (_imgxfer_format_is_raw (format) && backing_file != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: a raw image cannot have a backing file", url);
      return NULL;
    }

  open_options = options ? imgxfer_open_options_copy (options)
                         : imgxfer_open_options_new ();
  imgxfer_open_options_set_writable (open_options, TRUE);
  imgxfer_open_options_set_format (
      open_options, _imgxfer_format_is_raw (format) ? "raw" : format);

  if (_imgxfer_format_is_raw (format))
    backend = create_raw (url, size, open_options, cancellable, error);
  else
    backend = create_format (url, format, size, backing_file, backing_format,
                             open_options, cancellable, error);
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
 * Describes the whole image, asking imgxfer_source_extents() as many
 * times as it takes, as `imgxfer extents` prints it. A large image with a
 * slow driver takes long: the copy engine asks extents per unit of work
 * instead. Fails as imgxfer_source_extents() does.
 *
 * Returns: (transfer container) (element-type ImgxferExtent): every
 *   extent of the image, merged, or %NULL with @error set
 *
 * Since: 0.1
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
 * Writes extents as the imageio protocol (`GET /images/TICKET/extents`)
 * and `imgxfer extents --output=json` give them: an array of objects
 * with "start", "length", "zero" and "hole" in the zero context, or
 * "start", "length", "dirty" and "zero" in the dirty context.
 *
 * Returns: (transfer full): a JSON array
 *
 * Since: 0.1
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
