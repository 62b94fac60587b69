/* serve-extents.c: GET /images/ID/extents?context=zero|dirty
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-request.h"

typedef struct
{
  ImgxferExtentContext context;
  JsonNode *result;
} Extents;

static void
extents_free (gpointer data)
{
  Extents *extents = data;

  g_clear_pointer (&extents->result, json_node_unref);
  g_free (extents);
}

static void
extents_work (gpointer data)
{
  ServeRequest *request = data;
  Extents *extents = request->data;
  g_autoptr (GArray) list = NULL;

  if (!serve_request_acquire (request, &request->error))
    return;
  if (extents->context == IMGXFER_EXTENT_CONTEXT_DIRTY
      && !(imgxfer_backend_get_caps (request->backend)
           & IMGXFER_BACKEND_CAN_DIRTY))
    {
      g_set_error_literal (&request->error, SERVE_ERROR, 404,
                           "Operation not supported: the image has no dirty "
                           "bitmap (the ticket names none with \"bitmap\")");
      return;
    }
  list = imgxfer_image_extents (request->backend, extents->context,
                                serve_request_cancellable (request),
                                &request->error);
  if (list)
    extents->result = imgxfer_extents_to_json (list, extents->context);
}

static void
extents_done (gpointer data)
{
  ServeRequest *request = data;
  Extents *extents = request->data;

  if (request->error)
    {
      serve_request_fail (request);
      return;
    }
  serve_request_end_op (request);
  serve_http_send_json (request->msg, extents->result);
  soup_server_message_unpause (request->msg);
}

void
serve_extents (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  static const char *const contexts[] = { "zero", "dirty", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (ServeTicket) ticket = NULL;
  ServeRequest *request;
  Extents *extents;
  const char *context;

  ticket = serve_images_authorize (server, msg, id, "read", TRUE);
  if (ticket == NULL)
    return;
  if (!serve_http_query_enum (msg, "context", contexts, "zero", &context,
                              &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  if (g_str_equal (context, "dirty") && !serve_ticket_get_dirty (ticket))
    {
      g_set_error_literal (&error, SERVE_ERROR, 404,
                           "Ticket does not support dirty extents");
      serve_http_send_error (msg, error);
      return;
    }

  request = serve_request_new (msg, server, ticket);
  extents = g_new0 (Extents, 1);
  extents->context = g_str_equal (context, "dirty")
                         ? IMGXFER_EXTENT_CONTEXT_DIRTY
                         : IMGXFER_EXTENT_CONTEXT_ZERO;
  request->data = extents;
  request->data_free = extents_free;
  serve_request_start (request, 0, extents_work, extents_done);
}
