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
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-qemu-bytes.h"
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

gboolean
_imgxfer_qemu_is_nbd_url (const char *url)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, NULL);

  return parsed != NULL
         && g_str_has_prefix (imgxfer_url_get_scheme (parsed), "nbd");
}

/* Adds the "server" and "export" members of qemu's nbd node for @url,
 * or returns FALSE when qemu cannot reach it as it is. */
static gboolean
add_server (JsonBuilder *builder, ImgxferUrl *url)
{
  const char *scheme = imgxfer_url_get_scheme (url);
  const char *path = imgxfer_url_get_path (url);
  const char *socket = imgxfer_url_get_param (url, "socket");
  const char *host = imgxfer_url_get_host (url);

  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  if (g_str_equal (scheme, "nbd+unix") && socket != NULL)
    {
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "unix");
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, socket);
    }
  else if (g_str_equal (scheme, "nbd") && host != NULL && *host != '\0'
           && socket == NULL)
    {
      int port = imgxfer_url_get_port (url);
      g_autofree char *port_text
          = g_strdup_printf ("%d", port > 0 ? port : NBD_DEFAULT_PORT);

      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "inet");
      json_builder_set_member_name (builder, "host");
      json_builder_add_string_value (builder, host);
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
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, NULL);

  if (parsed == NULL)
    return _imgxfer_qemu_url_not_supported (url, format, error);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "driver");
  json_builder_add_string_value (builder, "nbd");
  if (!add_server (builder, parsed))
    return _imgxfer_qemu_url_not_supported (url, format, error);
  json_builder_end_object (builder);

  return _imgxfer_qemu_format_filename (format, shallow,
                                        json_builder_get_root (builder));
}
