/* fuzz-server-http.c: what `imgxfer serve` parses from a request
 *
 * The first byte picks the parser, the rest is its input: the Range and
 * Content-Range headers, the JSON bodies of a ticket (PUT /tickets) and
 * of a PATCH request, and a request's target (path and query string),
 * all reachable by any client of the daemon.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer.h>
#include <string.h>

#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-json.h"
#include "serve-ticket.h"
#include "serve-tickets.h"

#include "fuzz.h"

static void
fuzz_range (const char *header)
{
  g_autoptr (GError) error = NULL;
  guint64 first = 0;
  gint64 last = 0;

  if (serve_http_parse_range (header, &first, &last, &error))
    g_assert_true (last < 0 || (guint64)last >= first);
  else
    g_assert_nonnull (error);
}

static void
fuzz_content_range (const char *header)
{
  g_autoptr (GError) error = NULL;
  guint64 first = 0;
  gint64 last = 0;

  if (serve_http_parse_content_range (header, &first, &last, &error))
    g_assert_true (last < 0 || (guint64)last >= first);
  else
    g_assert_nonnull (error);
}

static void
fuzz_ticket (const char *body, gsize length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = _imgxfer_json_parse_strict (body, length, &error);
  g_autoptr (ServeTicket) ticket = NULL;

  if (node == NULL)
    return;
  ticket = serve_ticket_new (node, 60, &error);
  if (ticket == NULL)
    g_assert_nonnull (error);
  else
    g_free (serve_json_dumps (node));
}

#define TICKET_ID "test"

/* One ticket, made once: what the paths may or may not reach. */
static ServeTickets *
known_tickets (void)
{
  static ServeTickets *tickets;

  if (tickets == NULL)
    {
      const char *json = "{\"uuid\": \"" TICKET_ID "\", \"size\": 1048576, "
                         "\"url\": \"file:///nonexistent\", \"timeout\": "
                         "300, \"ops\": [\"read\"]}";
      g_autoptr (JsonNode) node
          = _imgxfer_json_parse_strict (json, strlen (json), NULL);
      g_autoptr (ServeTicket) ticket = serve_ticket_new (node, 60, NULL);

      tickets = serve_tickets_new ();
      serve_tickets_add (tickets, ticket);
    }
  return tickets;
}

/* A query option: absent, one of @values, or refused. */
static void
fuzz_option (GHashTable *params, const char *key, const char *const *values)
{
  g_autoptr (GError) error = NULL;
  const char *value = NULL;

  if (serve_http_check_enum (key, g_hash_table_lookup (params, key), values,
                             values[0], &value, &error))
    g_assert_true (g_strv_contains (values, value));
  else
    g_assert_error (error, SERVE_ERROR, 400);
}

/* A request's target, "PATH[?QUERY]" as the client sent it: the path
 * names the resource and the ticket, which is found by its own id alone
 * (never through "..", "%2e%2e", a NUL or a prefix); the query gives the
 * options of flush, extents and checksum requests. */
static void
fuzz_target (const char *text)
{
  const char *query = strchr (text, '?');
  g_autofree char *raw_path
      = query ? g_strndup (text, query - text) : g_strdup (text);
  g_autofree char *path = serve_images_unquote_path (raw_path);
  g_autofree char *id = NULL;
  ServeRoute route = serve_images_route (SERVE_SERVICE_REMOTE, path, &id);
  g_autoptr (GHashTable) params
      = serve_http_parse_query (query ? query + 1 : NULL);
  static const char *const yes_no[] = { "y", "n", NULL };
  static const char *const contexts[] = { "zero", "dirty", NULL };
  g_autoptr (GError) error = NULL;
  gsize block_size;

  if (id != NULL)
    {
      g_autoptr (ServeTicket) ticket
          = serve_tickets_lookup (known_tickets (), id);

      g_assert_true (route != SERVE_ROUTE_NONE && route != SERVE_ROUTE_INFO);
      g_assert_true ((ticket != NULL) == g_str_equal (id, TICKET_ID));
    }
  else
    g_assert_true (route == SERVE_ROUTE_NONE || route == SERVE_ROUTE_INFO);

  fuzz_option (params, "flush", yes_no);
  fuzz_option (params, "context", contexts);
  fuzz_option (params, "algorithm", imgxfer_checksum_list_algorithms ());
  if (serve_checksum_parse_block_size (
          g_hash_table_lookup (params, "block_size"), &block_size, &error))
    g_assert_true (block_size > 0 && block_size % 4096 == 0);
  else
    g_assert_error (error, SERVE_ERROR, 400);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;

  if (size == 0)
    return 0;
  text = g_strndup ((const char *)data + 1, size - 1);
  switch (data[0] % 4)
    {
    case 0:
      fuzz_range (text);
      break;
    case 1:
      fuzz_content_range (text);
      break;
    case 2:
      fuzz_ticket ((const char *)data + 1, size - 1);
      break;
    default:
      fuzz_target (text);
      break;
    }
  return 0;
}
