/* fuzz-server-http.c: what `imgxfer serve` parses from a request
 *
 * The first byte picks the parser, the rest is its input: the Range and
 * Content-Range headers, and the JSON bodies of a ticket (PUT /tickets)
 * and of a PATCH request, all reachable by any client of the daemon.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-http.h"
#include "serve-json.h"
#include "serve-ticket.h"

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

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;

  if (size == 0)
    return 0;
  text = g_strndup ((const char *)data + 1, size - 1);
  switch (data[0] % 3)
    {
    case 0:
      fuzz_range (text);
      break;
    case 1:
      fuzz_content_range (text);
      break;
    default:
      fuzz_ticket ((const char *)data + 1, size - 1);
      break;
    }
  return 0;
}
