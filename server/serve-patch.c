/* serve-patch.c: PATCH /images/ID: zero and flush
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-http.h"
#include "serve-image.h"
#include "serve-images.h"
#include "serve-json.h"
#include "serve-request.h"

typedef struct
{
  gboolean zero; /* else flush */
  guint64 offset;
  guint64 size;
  gboolean flush;
} Patch;

static gboolean
get_boolean (JsonObject *object, const char *key, gboolean *value,
             GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *text = NULL;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      text = serve_json_repr (node);
      g_set_error (error, SERVE_ERROR, 400, "Boolean required %s", text);
      return FALSE;
    }
  *value = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
parse_patch (SoupServerMessage *msg, Patch *patch, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  JsonNode *op;
  g_autofree char *text = NULL;

  root = _imgxfer_json_parse_strict (g_bytes_get_data (bytes, NULL),
                                     g_bytes_get_size (bytes), &local);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SERVE_ERROR, 400, "Invalid JSON message %s",
                   local ? local->message : "expecting an object");
      return FALSE;
    }
  object = json_node_get_object (root);
  op = json_object_get_member (object, "op");
  if (op == NULL)
    {
      g_set_error_literal (error, SERVE_ERROR, 400,
                           "Missing required value for op");
      return FALSE;
    }
  text = serve_json_repr (op);
  if (g_strcmp0 (text, "'zero'") != 0 && g_strcmp0 (text, "'flush'") != 0)
    {
      g_set_error (error, SERVE_ERROR, 400,
                   "Unsupported value %s for 'op', expecting one of "
                   "['flush', 'zero']",
                   text);
      return FALSE;
    }
  patch->zero = g_str_equal (text, "'zero'");
  if (!patch->zero)
    return TRUE;
  return serve_json_get_integer (object, "size", TRUE, G_MAXINT64, &patch->size,
                                 error)
         && serve_json_get_integer (object, "offset", FALSE, G_MAXINT64,
                                    &patch->offset, error)
         && get_boolean (object, "flush", &patch->flush, error);
}

static void
patch_work (gpointer data)
{
  ServeRequest *request = data;
  Patch *patch = request->data;
  GCancellable *cancellable = serve_request_cancellable (request);
  ImgxferDestination *destination;
  ImgxferZeroFlags flags = IMGXFER_ZERO_NONE;

  if (!serve_request_acquire (request, &request->error))
    return;
  destination = IMGXFER_DESTINATION (request->backend);
  if (!patch->zero)
    {
      serve_image_flush (serve_ticket_get_image (request->ticket),
                         request->backend, request->conn, cancellable,
                         &request->error);
      return;
    }
  /* A sparse ticket's zeroes may be holes: they still read as zeroes. */
  if (serve_ticket_get_sparse (request->ticket))
    flags |= IMGXFER_ZERO_MAY_TRIM;
  if (patch->size > 0
      && !imgxfer_destination_zero (destination, patch->offset, patch->size,
                                    flags, cancellable, &request->error))
    return;
  if (!patch->flush)
    serve_image_wrote (serve_ticket_get_image (request->ticket),
                       request->backend, request->conn);
  else
    serve_image_flush_writes (serve_ticket_get_image (request->ticket),
                              request->backend, request->conn, cancellable,
                              &request->error);
}

static void
patch_done (gpointer data)
{
  ServeRequest *request = data;
  Patch *patch = request->data;

  if (request->error)
    {
      serve_request_fail (request);
      return;
    }
  if (patch->zero)
    serve_ticket_add_done (request->ticket, request->op, patch->size);
  serve_request_end_op (request);
  serve_http_send_empty (request->msg, 200);
  soup_server_message_unpause (request->msg);
}

void
serve_patch (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ServeTicket) ticket = NULL;
  g_autofree Patch *patch = g_new0 (Patch, 1);
  ServeRequest *request;

  if (*id == '\0')
    {
      g_set_error_literal (&error, SERVE_ERROR, 400, "Ticket id is required");
      serve_http_send_error (msg, error);
      return;
    }
  if (!parse_patch (msg, patch, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  ticket = serve_images_authorize (server, msg, id, "write", TRUE);
  if (ticket == NULL)
    return;
  if (patch->zero
      && !serve_images_check_range (msg, ticket, patch->offset, patch->size))
    return;

  request = serve_request_new (msg, server, ticket);
  request->data = g_steal_pointer (&patch);
  request->data_free = g_free;
  serve_request_start (request, ((Patch *)request->data)->offset, patch_work,
                       patch_done);
}
