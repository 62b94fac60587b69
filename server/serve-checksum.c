/* serve-checksum.c: GET /images/ID/checksum and /checksum/algorithms
 *
 * The library's blkhash, so the daemon's checksum of a ticket's image is
 * the one `imgxfer checksum` prints for it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-json.h"
#include "serve-request.h"

/* imageio's bounds, against abuse of the server. */
#define MIN_BLOCK_SIZE (IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE / 4)
#define MAX_BLOCK_SIZE (IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE * 4)

typedef struct
{
  const char *algorithm;
  gsize block_size;
  char *checksum;
} Checksum;

static void
checksum_free (gpointer data)
{
  Checksum *checksum = data;

  g_free (checksum->checksum);
  g_free (checksum);
}

static void
checksum_work (gpointer data)
{
  ServeRequest *request = data;
  Checksum *checksum = request->data;

  if (!serve_request_acquire (request, &request->error))
    return;
  checksum->checksum = imgxfer_checksum_compute (
      request->backend, checksum->algorithm, checksum->block_size, 0,
      serve_request_cancellable (request), &request->error);
}

static void
checksum_done (gpointer data)
{
  ServeRequest *request = data;
  Checksum *checksum = request->data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  if (request->error)
    {
      serve_request_fail (request);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "algorithm");
  json_builder_add_string_value (builder, checksum->algorithm);
  json_builder_set_member_name (builder, "block_size");
  json_builder_add_int_value (builder, checksum->block_size);
  json_builder_set_member_name (builder, "checksum");
  json_builder_add_string_value (builder, checksum->checksum);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  serve_request_end_op (request);
  serve_http_send_json (request->msg, root);
  soup_server_message_unpause (request->msg);
}

gboolean
serve_checksum_parse_block_size (const char *text, gsize *block_size,
                                 GError **error)
{
  g_autofree char *quoted = NULL;
  guint64 value;

  *block_size = IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &value, NULL))
    {
      quoted = serve_repr (text);
      g_set_error (error, SERVE_ERROR, 400, "Invalid block size: %s", quoted);
      return FALSE;
    }
  if (value < MIN_BLOCK_SIZE || value > MAX_BLOCK_SIZE)
    {
      g_set_error (error, SERVE_ERROR, 400,
                   "Block size out of allowed range: %d-%d", MIN_BLOCK_SIZE,
                   MAX_BLOCK_SIZE);
      return FALSE;
    }
  if (value % 4096)
    {
      g_set_error_literal (error, SERVE_ERROR, 400,
                           "Block size is not aligned to 4096");
      return FALSE;
    }
  *block_size = value;
  return TRUE;
}

void
serve_checksum (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ServeTicket) ticket = NULL;
  g_autofree Checksum *checksum = g_new0 (Checksum, 1);
  ServeRequest *request;

  if (*id == '\0')
    {
      g_set_error_literal (&error, SERVE_ERROR, 400, "Ticket id is required");
      serve_http_send_error (msg, error);
      return;
    }
  if (!serve_http_query_enum (
          msg, "algorithm", imgxfer_checksum_list_algorithms (),
          IMGXFER_CHECKSUM_DEFAULT_ALGORITHM, &checksum->algorithm, &error)
      || !serve_checksum_parse_block_size (serve_http_query (msg, "block_size"),
                                           &checksum->block_size, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  ticket = serve_images_authorize (server, msg, id, "read", FALSE);
  if (ticket == NULL)
    return;

  request = serve_request_new (msg, server, ticket);
  request->data = g_steal_pointer (&checksum);
  request->data_free = checksum_free;
  if (!serve_request_begin (request, 0, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  soup_server_message_pause (msg);
  serve_request_run (request, checksum_work, checksum_done);
}

void
serve_checksum_algorithms (ServeServer *server, SoupServerMessage *msg)
{
  g_auto (GStrv) names
      = serve_sorted_strv (imgxfer_checksum_list_algorithms ());
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "algorithms");
  json_builder_begin_array (builder);
  for (char **name = names; *name; name++)
    json_builder_add_string_value (builder, *name);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  serve_http_send_json (msg, root);
}
