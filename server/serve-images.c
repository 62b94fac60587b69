/* serve-images.c: the /images/ and /info/ resources: routing
 *
 * The routes and their messages are imageio's: its patterns match a
 * prefix of the unquoted path, extents and checksum before the image.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-conn.h"
#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-json.h"

static const char *const allowed_methods[]
    = { "GET", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "HEAD", NULL };

char *
serve_images_unquote_path (const char *path)
{
  char *unquoted = g_uri_unescape_string (path, NULL);

  return unquoted ? unquoted : g_strdup (path);
}

static char *
unquoted_path (SoupServerMessage *msg)
{
  return serve_images_unquote_path (
      g_uri_get_path (soup_server_message_get_uri (msg)));
}

ServeRoute
serve_images_route (ServeServiceKind kind, const char *path, char **id)
{
  static const struct
  {
    const char *suffix;
    ServeRoute route;
  } suffixes[] = {
    { "/extents", SERVE_ROUTE_EXTENTS },
    { "/checksum/algorithms", SERVE_ROUTE_ALGORITHMS },
    { "/checksum", SERVE_ROUTE_CHECKSUM },
  };

  if (g_str_has_prefix (path, "/images/"))
    {
      const char *rest = path + strlen ("/images/");

      for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
        if (g_str_has_suffix (rest, suffixes[i].suffix))
          {
            *id = g_strndup (rest, strlen (rest) - strlen (suffixes[i].suffix));
            return suffixes[i].route;
          }
      *id = g_strdup (rest);
      return SERVE_ROUTE_IMAGE;
    }
  if (kind == SERVE_SERVICE_REMOTE && g_str_has_prefix (path, "/info/"))
    return SERVE_ROUTE_INFO;
  return SERVE_ROUTE_NONE;
}

/* 404 or 405 as imageio's router answers; TRUE when @msg may go on. */
static gboolean
check_route (SoupServerMessage *msg, ServeRoute r, const char *path)
{
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *quoted_method = serve_repr (method);
  g_autofree char *quoted_path = serve_repr (path);
  gboolean defined;

  if (!g_strv_contains (allowed_methods, method))
    {
      serve_http_send_status (msg, 405, "Invalid method %s", quoted_method);
      return FALSE;
    }
  if (r == SERVE_ROUTE_NONE)
    {
      serve_http_send_status (msg, 404, "No handler for %s", quoted_path);
      return FALSE;
    }
  if (r == SERVE_ROUTE_IMAGE)
    defined = g_str_equal (method, "GET") || g_str_equal (method, "PUT")
              || g_str_equal (method, "PATCH")
              || g_str_equal (method, "OPTIONS");
  else
    defined = g_str_equal (method, "GET");
  if (!defined)
    {
      serve_http_send_status (msg, 405, "Method %s not defined for %s",
                              quoted_method, quoted_path);
      return FALSE;
    }
  return TRUE;
}

void
serve_images_handle (ServeServer *server, ServeServiceKind kind,
                     SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *path = unquoted_path (msg);
  g_autofree char *id = NULL;
  ServeRoute r = serve_images_route (kind, path, &id);

  /* A PUT refused before its body was read has its answer already. */
  if (soup_server_message_get_status (msg) != 0)
    return;
  if (!check_route (msg, r, path))
    return;

  switch (r)
    {
    case SERVE_ROUTE_IMAGE:
      if (g_str_equal (method, "GET"))
        serve_download (server, msg, id);
      else if (g_str_equal (method, "PUT"))
        serve_upload (server, msg, id);
      else if (g_str_equal (method, "PATCH"))
        serve_patch (server, msg, id);
      else
        serve_options (server, msg, id);
      break;
    case SERVE_ROUTE_EXTENTS:
      serve_extents (server, msg, id);
      break;
    case SERVE_ROUTE_CHECKSUM:
      serve_checksum (server, msg, id);
      break;
    case SERVE_ROUTE_ALGORITHMS:
      serve_checksum_algorithms (server, msg);
      break;
    case SERVE_ROUTE_INFO:
      serve_info (server, msg);
      break;
    case SERVE_ROUTE_NONE:
      break;
    }
}

void
serve_images_handle_early (ServeServer *server, ServeServiceKind kind,
                           SoupServerMessage *msg)
{
  g_autofree char *path = unquoted_path (msg);
  g_autofree char *id = NULL;

  if (serve_images_route (kind, path, &id) == SERVE_ROUTE_IMAGE
      && g_str_equal (soup_server_message_get_method (msg), "PUT"))
    serve_upload_early (server, msg, id);
}

/* A response header @name: @value when the request has @request_header. */
static gboolean
answer_header (SoupServerMessage *msg, const char *request_header,
               const char *name, const char *value)
{
  if (!soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg), request_header))
    return FALSE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                name, value);
  return TRUE;
}

void
serve_images_add_cors (ServeServiceKind kind, SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *path = unquoted_path (msg);
  g_autofree char *id = NULL;
  const char *methods;
  gboolean any;

  if (serve_images_route (kind, path, &id) != SERVE_ROUTE_IMAGE)
    return;
  if (g_str_equal (method, "OPTIONS"))
    methods = "OPTIONS,GET,PUT";
  else if (g_str_equal (method, "GET") || g_str_equal (method, "PUT"))
    methods = "*";
  else
    return;
  /* Any origin, any header; a browser may keep the answer for a day. */
  any = answer_header (msg, "Origin", "Access-Control-Allow-Origin", "*");
  any |= answer_header (msg, "Access-Control-Request-Headers",
                        "Access-Control-Allow-Headers", "*");
  any |= answer_header (msg, "Access-Control-Request-Method",
                        "Access-Control-Allow-Methods", methods);
  if (any)
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg),
        "Access-Control-Max-Age", "86400");
}

ServeTicket *
serve_images_authorize (ServeServer *server, SoupServerMessage *msg,
                        const char *id, const char *op, gboolean close_on_error)
{
  g_autoptr (GError) error = NULL;
  ServeTicket *ticket;

  if (*id == '\0')
    {
      serve_http_send_status (msg, 400, "Ticket id is required");
      return NULL;
    }
  ticket = serve_tickets_authorize (serve_server_get_tickets (server), id, op,
                                    &error);
  if (ticket == NULL)
    {
      if (close_on_error)
        serve_http_close_connection (msg);
      serve_http_send_error (msg, error);
      return NULL;
    }
  serve_conns_use_ticket (msg, ticket);
  return ticket;
}

gboolean
serve_images_check_range (SoupServerMessage *msg, ServeTicket *ticket,
                          guint64 offset, guint64 length)
{
  g_autoptr (GError) error = NULL;
  guint64 size = serve_ticket_get_size (ticket);

  if (offset + length <= size)
    return TRUE;
  g_set_error_literal (&error, SERVE_ERROR, 416,
                       "Requested range out of allowed range");
  serve_http_send_range_error (msg, error, size);
  return FALSE;
}

void
serve_info (ServeServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  serve_http_send_json (msg, root);
}
