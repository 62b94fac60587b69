/* imgxfer-qemu-nbd-url.c: an image format stacked on an NBD export, as
 * qemu opens it
 *
 * `-f qcow2 nbd://...` names a qcow2 image whose bytes an NBD server
 * exports. qemu reads it as such when its qcow2 node's file is an nbd
 * node; qemu's nbd node takes the server and export as structured
 * options (a URL under "filename" is only parsed at the top level).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include <imgxfer/imgxfer-error.h>

#include "core/imgxfer-local-bytes-private.h"
#include "drivers/nbd/imgxfer-nbd-backend.h"
#include "imgxfer-qemu-nbd-url.h"

#define NBD_DEFAULT_PORT 10809

char *
_imgxfer_qemu_url_not_supported (const char *url, const char *format,
                                 GError **error)
{
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: format \"%s\" is not supported over this URL (only "
               "over local files, archive members, and nbd:// or "
               "nbd+unix:// URLs without TLS)",
               url, format);
  return NULL;
}

/* Adds the "server" and "export" members of qemu's nbd node for @uri,
 * or returns FALSE when qemu cannot reach it as it is. */
static gboolean
add_server (JsonBuilder *builder, GUri *uri)
{
  const char *scheme = g_uri_get_scheme (uri);
  const char *path = g_uri_get_path (uri);
  g_autoptr (GHashTable) params = NULL;
  const char *socket = NULL;

  if (g_uri_get_query (uri) != NULL)
    {
      params = g_uri_parse_params (g_uri_get_query (uri), -1, "&",
                                   G_URI_PARAMS_NONE, NULL);
      if (params == NULL)
        return FALSE;
      socket = g_hash_table_lookup (params, "socket");
    }

  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  if (g_ascii_strcasecmp (scheme, "nbd+unix") == 0 && socket != NULL)
    {
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "unix");
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, socket);
    }
  else if (g_ascii_strcasecmp (scheme, "nbd") == 0
           && g_uri_get_host (uri) != NULL && socket == NULL)
    {
      int port = g_uri_get_port (uri);
      g_autofree char *port_text
          = g_strdup_printf ("%d", port > 0 ? port : NBD_DEFAULT_PORT);

      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "inet");
      json_builder_set_member_name (builder, "host");
      json_builder_add_string_value (builder, g_uri_get_host (uri));
      json_builder_set_member_name (builder, "port");
      json_builder_add_string_value (builder, port_text);
    }
  else
    return FALSE;
  json_builder_end_object (builder);

  /* The export name is the path without its leading '/'. */
  json_builder_set_member_name (builder, "export");
  json_builder_add_string_value (builder, path[0] == '/' ? path + 1 : path);
  return TRUE;
}

char *
_imgxfer_qemu_nbd_filename (const char *url, const char *format,
                            gboolean shallow, GError **error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GUri) uri = NULL;
  g_autofree char *uri_text = NULL;

  uri_text = _imgxfer_nbd_backend_uri (url, NULL);
  if (uri_text != NULL)
    uri = g_uri_parse (uri_text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return _imgxfer_qemu_url_not_supported (url, format, error);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "driver");
  json_builder_add_string_value (builder, "nbd");
  if (!add_server (builder, uri))
    return _imgxfer_qemu_url_not_supported (url, format, error);
  json_builder_end_object (builder);

  return _imgxfer_qemu_format_filename (format, shallow,
                                        json_builder_get_root (builder));
}
