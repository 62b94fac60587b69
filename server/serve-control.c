/* serve-control.c: /tickets/ID on the control service
 *
 * Only the control service routes here: the remote and local services
 * know no /tickets/ path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-job.h"
#include "serve-json.h"

static JsonNode *
parse_body (SoupServerMessage *msg, GError **error)
{
  g_autoptr (GBytes) bytes
      = soup_message_body_flatten (soup_server_message_get_request_body (msg));

  return _imgxfer_json_parse_strict (g_bytes_get_data (bytes, NULL),
                                     g_bytes_get_size (bytes), error);
}

static void
get_ticket (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (ServeTicket) ticket
      = serve_tickets_lookup (serve_server_get_tickets (server), id);
  g_autoptr (JsonNode) info = NULL;
  g_autofree char *quoted = serve_repr (id);

  if (ticket == NULL)
    {
      serve_http_send_status (msg, 404, "No such ticket %s", quoted);
      return;
    }
  info = serve_ticket_info (ticket);
  serve_http_send_json (msg, info);
}

static void
put_ticket (ServeServer *server, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_body (msg, &error);
  g_autoptr (ServeTicket) ticket = NULL;

  if (root == NULL)
    {
      serve_http_send_status (msg, 400, "Ticket is not in a json format: %s",
                              error->message);
      return;
    }
  ticket = serve_ticket_new (
      root, serve_server_get_config (server)->inactivity_timeout, &error);
  if (ticket == NULL)
    {
      serve_http_send_error (msg, error);
      return;
    }
  serve_tickets_add (serve_server_get_tickets (server), ticket);
  serve_http_send_empty (msg, 200);
}

static void
patch_ticket (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_body (msg, &error);
  g_autoptr (ServeTicket) ticket = NULL;
  guint64 timeout = 0;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      serve_http_send_status (msg, 400, "Invalid patch: %s",
                              error ? error->message : "expecting an object");
      return;
    }
  /* imageio sets no maximum; a ticket's timeout is a guint here. */
  if (!serve_json_get_integer (json_node_get_object (root), "timeout", TRUE,
                               G_MAXUINT32, &timeout, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  ticket = serve_tickets_lookup (serve_server_get_tickets (server), id);
  if (ticket == NULL)
    {
      serve_http_send_status (msg, 404, "No such ticket: %s", id);
      return;
    }
  serve_ticket_extend (ticket, timeout);
  serve_http_send_empty (msg, 200);
}

typedef struct
{
  ServeServer *server;
  SoupServerMessage *msg;
  char *id;
  GError *error;
} Removal;

/* Waiting for the ticket's operations blocks: a worker does it. */
static void
remove_work (gpointer data)
{
  Removal *removal = data;
  ServeTickets *tickets = serve_server_get_tickets (removal->server);
  guint timeout = serve_server_get_config (removal->server)->remove_timeout;

  if (*removal->id == '\0')
    serve_tickets_clear (tickets, timeout);
  else
    serve_tickets_remove (tickets, removal->id, timeout, &removal->error);
}

static void
remove_done (gpointer data)
{
  Removal *removal = data;

  if (removal->error)
    serve_http_send_error (removal->msg, removal->error);
  else
    serve_http_send_empty (removal->msg, 204);
  soup_server_message_unpause (removal->msg);
  g_clear_error (&removal->error);
  g_object_unref (removal->msg);
  g_free (removal->id);
  g_free (removal);
}

static void
delete_ticket (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  Removal *removal = g_new0 (Removal, 1);

  removal->server = server;
  removal->msg = g_object_ref (msg);
  removal->id = g_strdup (id);
  soup_server_message_pause (msg);
  serve_job_run (remove_work, remove_done, removal);
}

void
serve_control_handle (ServeServer *server, SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);
  const char *raw = g_uri_get_path (soup_server_message_get_uri (msg));
  g_autofree char *path = g_uri_unescape_string (raw, NULL);
  g_autofree char *quoted_method = serve_repr (method);
  g_autofree char *quoted_path = NULL;
  const char *id;

  if (path == NULL)
    path = g_strdup (raw);
  quoted_path = serve_repr (path);
  if (!g_str_has_prefix (path, "/tickets/"))
    {
      serve_http_send_status (msg, 404, "No handler for %s", quoted_path);
      return;
    }
  id = path + strlen ("/tickets/");
  if (g_str_equal (method, "DELETE"))
    {
      delete_ticket (server, msg, id);
      return;
    }
  if (!(g_str_equal (method, "GET") || g_str_equal (method, "PUT")
        || g_str_equal (method, "PATCH")))
    {
      serve_http_send_status (msg, 405, "Method %s not defined for %s",
                              quoted_method, quoted_path);
      return;
    }
  if (*id == '\0')
    {
      serve_http_send_status (msg, 400, "Ticket id is required");
      return;
    }
  if (g_str_equal (method, "GET"))
    get_ticket (server, msg, id);
  else if (g_str_equal (method, "PUT"))
    put_ticket (server, msg);
  else
    patch_ticket (server, msg, id);
}
