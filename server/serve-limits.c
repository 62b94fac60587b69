/* serve-limits.c: bounds on a request's line and header fields
 *
 * libsoup 3.2 reads a request's line and header fields into one buffer
 * and, once it holds more than 64 KiB, closes the connection without an
 * answer: no request reaches the daemon with a larger head. Within that
 * bound the daemon answers as imageio does, with 414 for a request line
 * too long and 431 for more than 100 header fields (the bound of Python's
 * http.client, imageio's parser). imageio's request line stops at 4096
 * bytes; here it is 16 KiB, since a ticket id is any string and tickets
 * with ids of several KiB are served. Header fields of more than 16 KiB
 * in all get 431 too: no client of the protocol sends more than a few
 * hundred bytes of them.
 *
 * A head over 64 KiB cannot be answered through libsoup 3.2: the bound is
 * a constant of its message I/O (HEADER_SIZE_LIMIT), and the head is
 * read into that I/O's own buffer, out of the daemon's sight. The request
 * has no method yet when the read fails, so the server emits neither
 * got-headers nor request-aborted: the daemon hears of it only through
 * request-started and the message's disconnected, when the connection is
 * gone. Answering 431 as imageio does would take accepting connections
 * ourselves and giving libsoup a stream that watches the head
 * (soup_server_accept_iostream()), which loses the GSocket each
 * connection's state hangs on (serve-conn.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-http.h"
#include "serve-limits.h"

#define MAX_REQUEST_LINE (16 * 1024)
#define MAX_HEADER_FIELDS 100
#define MAX_HEADER_BYTES (16 * 1024)

/* "METHOD TARGET HTTP/1.1", as the client sent it. */
static gsize
request_line_length (SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = g_uri_get_query (uri);

  return strlen (soup_server_message_get_method (msg)) + 1
         + strlen (g_uri_get_path (uri)) + (query ? 1 + strlen (query) : 0)
         + strlen (" HTTP/1.1");
}

static void
refuse (SoupServerMessage *msg, guint status, const char *message, gsize size,
        gsize limit)
{
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
  serve_http_close_connection (msg);
  serve_http_send_status (msg, status, "%s: %zu (at most %zu)", message, size,
                          limit);
}

gboolean
serve_limits_check_head (SoupServerMessage *msg)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;
  gsize fields = 0, bytes = 0;
  gsize line = request_line_length (msg);

  if (line > MAX_REQUEST_LINE)
    {
      refuse (msg, 414, "Request line too long", line, MAX_REQUEST_LINE);
      return FALSE;
    }
  soup_message_headers_iter_init (
      &iter, soup_server_message_get_request_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      fields++;
      bytes += strlen (name) + strlen (": ") + strlen (value) + strlen ("\r\n");
    }
  if (fields > MAX_HEADER_FIELDS)
    {
      refuse (msg, 431, "Too many header fields", fields, MAX_HEADER_FIELDS);
      return FALSE;
    }
  if (bytes > MAX_HEADER_BYTES)
    {
      refuse (msg, 431, "Header fields too large", bytes, MAX_HEADER_BYTES);
      return FALSE;
    }
  return TRUE;
}
