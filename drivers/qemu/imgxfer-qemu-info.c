/* imgxfer-qemu-info.c: qemu-img info and measure on any image imgxfer opens
 *
 * The qemu driver's info and measure: qemu-img reads the image where the
 * protocol drivers find its bytes (a file, a tar member's byte range) or
 * at the NBD URL qemu itself can open.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-qemu-backend.h"
#include "imgxfer-qemu-bytes.h"
#include "imgxfer-qemu-img.h"
#include "imgxfer-qemu-nbd-url.h"

/* Where qemu-img finds the image, and what to add to its answer. */
typedef struct
{
  char *url;          /* as the caller named it, for messages */
  char *filename;     /* what qemu-img opens: a path, a json: or an NBD URL */
  const char *format; /* -f, or NULL to let qemu-img probe */
  gboolean is_member; /* a byte range of a larger file (a tar member) */
  guint64 member_offset;
  guint64 member_size;
  guint64 virtual_size; /* for images qemu-img cannot open itself */
  /* Raw data of a remote image: described at the size its driver reports
   * (qemu-img would round an NBD export's size up to 512). */
  gboolean size_only;
} QemuTarget;

static void
qemu_target_free (QemuTarget *target)
{
  g_free (target->url);
  g_free (target->filename);
  g_free (target);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QemuTarget, qemu_target_free)

/* NBD URLs that qemu's own block layer understands. nbds:// is not one of
 * them: qemu wants TLS credentials objects, not a URL. */
static gboolean
is_qemu_nbd_url (const char *url)
{
  static const char *const schemes[] = { "nbd", "nbd+unix", NULL };
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, NULL);

  return parsed != NULL
         && g_strv_contains (schemes, imgxfer_url_get_scheme (parsed));
}

static gboolean
is_raw (const char *format)
{
  return format == NULL || g_ascii_strcasecmp (format, "raw") == 0;
}

/* A format over a remote image that qemu-img cannot read: the driver
 * that would read it says why. */
static QemuTarget *
refuse_remote_format (const char *url, ImgxferOpenOptions *options,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferBackend) backend
      = imgxfer_open (url, options, cancellable, error);

  if (backend != NULL)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                 "%s: qemu-img cannot describe a %s image over this URL",
                 url, imgxfer_open_options_get_format (options));
  return NULL;
}

/* Finds what qemu-img must open for @url. The protocol level is opened
 * as raw, through the same drivers imgxfer_open() uses, so a tar member
 * (whatever way it is named) resolves to its byte range in the archive,
 * and a remote image is seen at the size its driver reports. A format is
 * refused where imgxfer_open() refuses it, so that every command gives
 * the same answer. */
static QemuTarget *
resolve_target (const char *url, ImgxferOpenOptions *options,
                GCancellable *cancellable, GError **error)
{
  g_autoptr (QemuTarget) target = g_new0 (QemuTarget, 1);
  g_auto (ImgxferLocalBytes) bytes = { 0 };

  target->url = g_strdup (url);
  target->format = options ? imgxfer_open_options_get_format (options) : NULL;

  /* A format on an NBD export: qemu-img reads it through its own client,
   * as the qemu driver does, where no TLS is needed. */
  if (!is_raw (target->format) && is_qemu_nbd_url (url))
    {
      target->filename = g_strdup (url);
      return g_steal_pointer (&target);
    }
  if (!is_raw (target->format) && _imgxfer_qemu_is_nbd_url (url))
    return refuse_remote_format (url, options, cancellable, error);

  if (!_imgxfer_local_bytes_find (url, options, &bytes, &target->virtual_size,
                                  cancellable, error))
    return NULL;

  if (bytes.path == NULL)
    {
      /* Remote drivers give guest data: qemu-img must not guess a format
       * imgxfer would not read either. */
      if (!is_raw (target->format))
        return refuse_remote_format (url, options, cancellable, error);
      target->format = "raw";
      target->size_only = TRUE;
      /* qemu-img measures what it can reach. */
      if (is_qemu_nbd_url (url))
        target->filename = g_strdup (url);
      return g_steal_pointer (&target);
    }

  if (bytes.whole)
    {
      target->filename = g_steal_pointer (&bytes.path);
      return g_steal_pointer (&target);
    }

  /* No format in the filename: with -f absent, qemu-img probes. A member
   * names its backing file (read from its header) but qemu does not open
   * it, unless the caller allows files outside the archive. */
  target->filename = _imgxfer_local_bytes_qemu_filename (
      &bytes, NULL,
      !(options && imgxfer_open_options_get_allow_external_files (options)));
  target->is_member = TRUE;
  target->member_offset = bytes.offset;
  target->member_size = bytes.size;
  return g_steal_pointer (&target);
}

/* qemu-img names the json: filename in its messages; name the image the
 * way the caller did instead. */
static void
rename_in_error (QemuTarget *target, GError *error)
{
  g_autoptr (GString) message = NULL;

  if (error == NULL || !target->is_member)
    return;

  message = g_string_new (error->message);
  g_string_replace (message, target->filename, target->url, 0);
  g_free (error->message);
  error->message = g_string_free (g_steal_pointer (&message), FALSE);
}

/* Runs `qemu-img COMMAND --output=json [ARGS] [-f FMT] -- FILENAME` and
 * parses the object it prints. */
static JsonNode *
run_qemu_img (QemuTarget *target, const char *command, const char *const *args,
              GCancellable *cancellable, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) argv = NULL;
  g_autofree char *out = NULL;
  JsonNode *root;

  g_strv_builder_add_many (builder, command, "--output=json", NULL);
  if (args != NULL)
    g_strv_builder_addv (builder, (const char **)args);
  if (target->format != NULL)
    g_strv_builder_add_many (builder, "-f", target->format, NULL);
  /* A file named "-x.qcow2" is not an option. */
  g_strv_builder_add_many (builder, "--", target->filename, NULL);
  argv = g_strv_builder_end (builder);

  if (!_imgxfer_qemu_img ((const char *const *)argv, &out, cancellable,
                          &local_error))
    {
      rename_in_error (target, local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (!json_parser_load_from_data (parser, out, -1, &local_error))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: cannot parse the output of qemu-img %s: %s",
                   target->url, command, local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: qemu-img %s printed no JSON object", target->url,
                   command);
      return NULL;
    }
  return json_node_copy (root);
}

static void
add_member_keys (QemuTarget *target, JsonObject *object)
{
  if (!target->is_member)
    return;
  json_object_set_int_member (object, "member-offset", target->member_offset);
  json_object_set_int_member (object, "member-size", target->member_size);
}

/* The class's info: `qemu-img info` of the image, named the way the
 * caller named it. For a member of an archive, qemu-img reads the
 * member's byte range in place, and the object also holds
 * "member-offset" and "member-size" (its "actual-size" is the whole
 * archive's, as imageio's client reports it). A format on an NBD export is
 * read by qemu-img; raw data of a remote image is described at the size
 * its driver reports. */
JsonNode *
_imgxfer_qemu_info (ImgxferBackendClass *klass, const char *url,
                    ImgxferOpenOptions *options, GCancellable *cancellable,
                    GError **error)
{
  g_autoptr (QemuTarget) target = NULL;
  JsonNode *node;
  JsonObject *object;

  target = resolve_target (url, options, cancellable, error);
  if (target == NULL)
    return NULL;

  if (target->size_only)
    {
      object = json_object_new ();
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, object);
      json_object_set_int_member (object, "virtual-size", target->virtual_size);
      json_object_set_string_member (object, "filename", url);
      json_object_set_string_member (object, "format", target->format);
      return node;
    }

  node = run_qemu_img (target, "info", NULL, cancellable, error);
  if (node == NULL)
    return NULL;

  object = json_node_get_object (node);
  /* The image as the caller named it, not as qemu-img reformats it. An
   * archive member's "actual-size" stays the whole archive's allocation,
   * as imageio's client reports it. */
  if (target->is_member || is_qemu_nbd_url (url))
    json_object_set_string_member (object, "filename", url);
  add_member_keys (target, object);
  return node;
}

/* The class's measure: `qemu-img measure -O TARGET_FORMAT` of the image,
 * plus "member-offset" and "member-size" for a member of an archive. */
JsonNode *
_imgxfer_qemu_measure (ImgxferBackendClass *klass, const char *url,
                       ImgxferOpenOptions *options, const char *target_format,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr (QemuTarget) target = NULL;
  const char *args[] = { "-O", target_format, NULL };
  JsonNode *node;

  target = resolve_target (url, options, cancellable, error);
  if (target == NULL)
    return NULL;

  if (target->filename == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: cannot measure an image qemu-img cannot open", url);
      return NULL;
    }

  node = run_qemu_img (target, "measure", args, cancellable, error);
  if (node != NULL)
    add_member_keys (target, json_node_get_object (node));
  return node;
}
