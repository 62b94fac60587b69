/* imgxfer-image-describe.c: imgxfer_image_info() and
 * imgxfer_image_measure(), answered by the drivers
 *
 * An image is described by the driver of its format (given, or probed
 * from its first bytes), raw data by its protocol driver or, when that
 * has nothing to add, from the open image itself. A measure is the
 * business of the target format's driver: it alone knows the format's
 * overhead.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>

#include "imgxfer-driver-private.h"

/* "member-offset" and "member-size" when the image is a byte range of a
 * larger local file (a member of an archive), and "actual-size", the
 * space the file holding it takes (the whole archive's, as imageio's
 * client reports it). */
static void
add_member_keys (ImgxferBackend *protocol, JsonObject *object)
{
  g_autofree char *path = NULL;
  guint64 offset, size;
  GStatBuf st;

  if (!imgxfer_backend_get_local_file (protocol, &path, &offset, &size)
      || g_stat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return;
  json_object_set_int_member (object, "actual-size",
                              (gint64)st.st_blocks * 512);
  if (offset == 0 && size == (guint64)st.st_size)
    return;
  json_object_set_int_member (object, "member-offset", offset);
  json_object_set_int_member (object, "member-size", size);
}

/* What every image has: its name, its size, and where it lies. */
static JsonNode *
describe_raw (const char *url, ImgxferBackend *protocol)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  json_node_take_object (node, object);
  json_object_set_string_member (object, "filename", url);
  json_object_set_string_member (object, "format", "raw");
  json_object_set_int_member (object, "virtual-size",
                              imgxfer_backend_get_size (protocol));
  add_member_keys (protocol, object);
  return node;
}

typedef struct
{
  gboolean measure; /* or info */
  const char *url;
  ImgxferOpenOptions *options;
  const char *target_format;
  GCancellable *cancellable;
} Question;

static gpointer
ask_class (ImgxferBackendClass *klass, gpointer user_data, GError **error)
{
  Question *q = user_data;

  if (!q->measure)
    return klass->info ? klass->info (klass, q->url, q->options,
                                      q->cancellable, error)
                       : NULL;
  return klass->measure ? klass->measure (klass, q->url, q->options,
                                          q->target_format, q->cancellable,
                                          error)
                        : NULL;
}

/* Asks the drivers of @format in turn, until one answers; a driver
 * without the method, or that declines, passes on. */
static JsonNode *
ask_format_drivers (Question *question, const char *format, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  JsonNode *node;

  node = _imgxfer_driver_ask_format (format, question->url, ask_class,
                                     question, &local_error);
  if (node == NULL && local_error == NULL)
    g_set_error (&local_error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                 "%s: no driver can %s %s images", question->url,
                 question->measure ? "measure into" : "describe", format);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return node;
}

/**
 * imgxfer_image_info:
 * @url: a path or URL, as imgxfer_open() takes it
 * @options: (nullable): the format (probed when not given) and the
 *   archive member, if any
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Describes an image as `qemu-img info --output=json` does: "filename"
 * (@url), "format", "virtual-size", and "cluster-size",
 * "backing-filename", "format-specific"... when the format has them. The
 * driver of the image's format answers (its #ImgxferBackendClass.info),
 * or for raw data the protocol driver; a member of an archive also has
 * "member-offset" and "member-size", its byte range in the archive.
 * Fails as imgxfer_open() does.
 *
 * Returns: (transfer full): a JSON object, or %NULL with @error set
 *
 * Since: 0.1
 */
JsonNode *
imgxfer_image_info (const char *url, ImgxferOpenOptions *options,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) raw_options = NULL;
  g_autoptr (ImgxferBackend) protocol = NULL;
  g_autoptr (GTypeClass) klass = NULL;
  ImgxferBackendClass *backend_class;
  const char *format;
  JsonNode *info;

  g_return_val_if_fail (url != NULL, NULL);

  raw_options = options ? imgxfer_open_options_copy (options)
                        : imgxfer_open_options_new ();
  imgxfer_open_options_set_writable (raw_options, FALSE);
  format = imgxfer_open_options_get_format (raw_options);
  if (format == NULL)
    {
      protocol = _imgxfer_open_protocol (url, raw_options, &format, cancellable,
                                         error);
      if (protocol == NULL)
        return NULL;
    }

  if (!_imgxfer_format_is_raw (format))
    {
      g_autoptr (ImgxferOpenOptions) format_options
          = imgxfer_open_options_copy (raw_options);
      Question question = { FALSE, url, format_options, NULL, cancellable };

      /* The format's drivers read the image themselves. */
      if (protocol != NULL
          && !imgxfer_backend_close (protocol, IMGXFER_CLOSE_NONE,
                                     cancellable, error))
        return NULL;
      imgxfer_open_options_set_format (format_options, format);
      return ask_format_drivers (&question, format, error);
    }

  if (protocol == NULL)
    protocol = _imgxfer_open_protocol (url, raw_options, &format, cancellable,
                                       error);
  if (protocol == NULL)
    return NULL;
  klass = g_type_class_ref (G_OBJECT_TYPE (protocol));
  backend_class = (ImgxferBackendClass *)klass;
  if (backend_class->info != NULL)
    info = backend_class->info (backend_class, url, raw_options, cancellable,
                                error);
  else
    info = describe_raw (url, protocol);
  /* The description stands only if the image was read to the end well. */
  if (!imgxfer_backend_close (protocol, IMGXFER_CLOSE_NONE, cancellable,
                              info != NULL ? error : NULL))
    g_clear_pointer (&info, json_node_unref);
  return info;
}

/* Raw data takes its virtual size, allocated or not. */
static JsonNode *
measure_raw (const char *url, ImgxferOpenOptions *options,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonNode) info
      = imgxfer_image_info (url, options, cancellable, error);
  JsonObject *object;
  JsonNode *node;
  JsonObject *measure;
  gint64 size;

  if (info == NULL)
    return NULL;
  object = json_node_get_object (info);
  size = json_object_get_int_member (object, "virtual-size");

  node = json_node_new (JSON_NODE_OBJECT);
  measure = json_object_new ();
  json_node_take_object (node, measure);
  json_object_set_int_member (measure, "required", size);
  json_object_set_int_member (measure, "fully-allocated", size);
  if (json_object_has_member (object, "member-offset"))
    {
      json_object_set_int_member (
          measure, "member-offset",
          json_object_get_int_member (object, "member-offset"));
      json_object_set_int_member (
          measure, "member-size",
          json_object_get_int_member (object, "member-size"));
    }
  return node;
}

/* For the question "has @format a driver?": the first one answers. */
static gpointer
any_driver (ImgxferBackendClass *klass, gpointer user_data, GError **error)
{
  return klass;
}

/**
 * imgxfer_image_measure:
 * @url: a path or URL, as imgxfer_open() takes it
 * @options: (nullable): the format (probed when not given) and the archive
 *   member, if any
 * @target_format: the format to convert to ("raw", "qcow2")
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * How much space converting the image to @target_format takes, as
 * `qemu-img measure --output=json` says: "required" and "fully-allocated"
 * (and "bitmaps" for formats that keep them), plus "member-offset" and
 * "member-size" for a member of an archive. The driver of @target_format
 * answers (its #ImgxferBackendClass.measure); raw data takes the image's
 * virtual size. Fails as imgxfer_open() does, and with
 * %IMGXFER_ERROR_NOT_SUPPORTED when no driver measures @target_format.
 *
 * Returns: (transfer full): a JSON object, or %NULL with @error set
 *
 * Since: 0.1
 */
JsonNode *
imgxfer_image_measure (const char *url, ImgxferOpenOptions *options,
                       const char *target_format, GCancellable *cancellable,
                       GError **error)
{
  g_autoptr (ImgxferOpenOptions) source_options = NULL;
  Question question = { TRUE, url, NULL, target_format, cancellable };
  const char *format = options ? imgxfer_open_options_get_format (options)
                               : NULL;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (target_format != NULL, NULL);

  /* The source's format is refused as every other command refuses it,
   * not by whichever tool the target's driver runs. */
  if (!_imgxfer_format_is_raw (format)
      && _imgxfer_driver_ask_format (format, url, any_driver, NULL, error)
             == NULL)
    return NULL;

  if (_imgxfer_format_is_raw (target_format))
    return measure_raw (url, options, cancellable, error);

  source_options = options ? imgxfer_open_options_copy (options)
                           : imgxfer_open_options_new ();
  imgxfer_open_options_set_writable (source_options, FALSE);
  question.options = source_options;
  return ask_format_drivers (&question, target_format, error);
}
