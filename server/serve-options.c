/* serve-options.c: OPTIONS /images/ID and OPTIONS /images/ *
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-http.h"
#include "serve-image.h"
#include "serve-images.h"
#include "serve-request.h"

static void
add_features (JsonBuilder *builder, gboolean write)
{
  json_builder_set_member_name (builder, "features");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, "checksum");
  json_builder_add_string_value (builder, "extents");
  if (write)
    {
      json_builder_add_string_value (builder, "flush");
      json_builder_add_string_value (builder, "zero");
    }
  json_builder_end_array (builder);
}

/* imageio's order of keys: the unix socket first. */
static JsonBuilder *
begin_options (ServeServer *server)
{
  JsonBuilder *builder = json_builder_new ();
  ServeConfig *config = serve_server_get_config (server);

  json_builder_begin_object (builder);
  if (config->local_enable)
    {
      json_builder_set_member_name (builder, "unix_socket");
      json_builder_add_string_value (builder, config->local_socket);
    }
  return builder;
}

static void
send_options (SoupServerMessage *msg, JsonBuilder *builder, const char *allow)
{
  g_autoptr (JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", allow);
  serve_http_send_json (msg, root);
}

static void
open_done (gpointer data)
{
  ServeRequest *request = data;
  g_autoptr (JsonBuilder) builder = NULL;
  gboolean write = serve_ticket_may (request->ticket, "write");
  guint max_readers, max_writers;

  if (request->error)
    {
      serve_request_fail (request);
      return;
    }
  /* Asking for the options counts as activity, as in imageio. */
  serve_ticket_touch (request->ticket);
  max_readers = serve_image_max_readers (request->backend);
  max_writers = serve_image_max_writers (request->backend);
  serve_request_end_op (request);
  builder = begin_options (request->server);
  add_features (builder, write);
  json_builder_set_member_name (builder, "max_readers");
  json_builder_add_int_value (builder, max_readers);
  json_builder_set_member_name (builder, "max_writers");
  json_builder_add_int_value (builder, max_writers);
  send_options (request->msg, builder,
                write ? "OPTIONS,GET,PUT,PATCH" : "OPTIONS,GET");
  soup_server_message_unpause (request->msg);
}

void
serve_options (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (ServeTicket) ticket = NULL;
  ServeRequest *request;

  if (g_str_equal (id, "*"))
    {
      g_autoptr (JsonBuilder) builder = begin_options (server);

      add_features (builder, TRUE);
      send_options (msg, builder, "OPTIONS,GET,PUT,PATCH");
      return;
    }
  ticket = serve_images_authorize (server, msg, id, "read", TRUE);
  if (ticket == NULL)
    return;
  request = serve_request_new (msg, server, ticket);
  soup_server_message_pause (msg);
  serve_request_run (request, serve_request_open, open_done);
}
