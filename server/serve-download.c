/* serve-download.c: GET /images/ID, streamed
 *
 * The body is sent with Content-Length encoding, in chunks read by jobs
 * into the daemon's body buffers (serve-buffer.h): one read runs while up
 * to MAX_QUEUED chunks wait for the socket, so memory stays at a few
 * chunks per connection whatever the range, and within the budget
 * whatever the number of connections.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-buffer.h"
#include "serve-error.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-request.h"

#define CHUNK_SIZE (256 * 1024)
#define MAX_QUEUED 2

typedef struct
{
  guint64 offset;
  gint64 size; /* -1: to the end of the image */
  gboolean partial;
  guint64 next;      /* offset of the next read */
  guint64 remaining; /* bytes left to read */
  guint queued;      /* chunks given to libsoup, not yet written */
  gboolean reading;
  ServeBuffer *buffer; /* being read into */
  ServeBufferWait wait;
} Download;

static void
download_free (gpointer data)
{
  Download *download = data;

  serve_buffer_wait_cancel (&download->wait);
  serve_buffer_give (download->buffer);
  g_free (download);
}

static void read_next (ServeRequest *request);

/* Cuts the response. libsoup 3.2 has no call for it, and a shutdown of
 * the socket alone ends nothing: libsoup pauses the message itself while
 * no chunk is ready, and does not see the socket meanwhile. The body is
 * marked complete instead, which ends the message without a byte more
 * (the client sees the connection close short of Content-Length), and
 * the connection closes with it. */
static void
abort_connection (ServeRequest *request)
{
  GSocket *socket = soup_server_message_get_socket (request->msg);

  g_message ("GET %s: %s", serve_ticket_get_transfer_id (request->ticket),
             request->error->message);
  if (socket)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  serve_http_close_connection (request->msg);
  soup_message_body_complete (
      soup_server_message_get_response_body (request->msg));
  soup_server_message_unpause (request->msg);
}

static void
read_work (gpointer data)
{
  ServeRequest *request = data;
  Download *download = request->data;
  ServeBuffer *buffer = download->buffer;
  gsize length = MIN (download->remaining, buffer->size);

  /* Given back while the request waited for memory. */
  if (!serve_request_acquire (request, &request->error))
    return;
  if (imgxfer_source_pread (
          IMGXFER_SOURCE (request->backend), buffer->data, length,
          download->next, serve_request_cancellable (request), &request->error))
    buffer->len = length;
}

static void
read_done (gpointer data)
{
  ServeRequest *request = data;
  Download *download = request->data;
  SoupMessageBody *body = soup_server_message_get_response_body (request->msg);
  g_autoptr (GBytes) chunk = NULL;
  gsize length;

  download->reading = FALSE;
  if (request->error)
    {
      abort_connection (request);
      return;
    }
  length = download->buffer->len;
  chunk = serve_buffer_free_to_bytes (g_steal_pointer (&download->buffer));
  soup_message_body_append_bytes (body, chunk);
  serve_ticket_add_done (request->ticket, request->op, length);
  download->next += length;
  download->remaining -= length;
  download->queued++;
  if (download->remaining == 0)
    {
      serve_request_end_op (request);
      soup_message_body_complete (body);
    }
  soup_server_message_unpause (request->msg);
  read_next (request);
}

static void
buffer_ready (gpointer data)
{
  ServeRequest *request = data;

  if (!request->finished)
    read_next (request);
}

static void
read_next (ServeRequest *request)
{
  Download *download = request->data;

  if (download->reading || download->remaining == 0 || download->wait.queued
      || download->wait.source)
    return;
  /* The client has all it may be sent ahead: a client that stops reading
   * must not keep the backend from the other connections meanwhile. */
  if (download->queued >= MAX_QUEUED)
    {
      serve_request_put_backend (request);
      return;
    }
  /* A chunk beyond the first waiting for the socket is a spare. */
  download->buffer = serve_buffer_take (CHUNK_SIZE, download->queued > 0);
  if (download->buffer == NULL)
    {
      /* No backend is held while waiting: those who hold the memory may
       * need it to finish (an image with one writer). */
      serve_request_put_backend (request);
      serve_buffer_wait (&download->wait, CHUNK_SIZE, buffer_ready, request);
      return;
    }
  download->reading = TRUE;
  serve_request_run (request, read_work, read_done);
}

static void
on_wrote_chunk (SoupServerMessage *msg, ServeRequest *request)
{
  Download *download = request->data;

  if (download->queued > 0)
    download->queued--;
  read_next (request);
}

/* imageio's checks against what the image holds, now that it is open. */
static gboolean
check_available (ServeRequest *request, Download *download, guint64 *size)
{
  guint64 available = MIN (serve_ticket_get_size (request->ticket),
                           imgxfer_backend_get_size (request->backend));
  guint64 requested = download->size >= 0 ? download->offset + download->size
                                          : download->offset;

  /* "bytes=FIRST-" wants at least the byte at FIRST: at the end there is
   * none, and "bytes FIRST-(FIRST-1)/SIZE" is no range. */
  if (requested > available
      || (download->partial && download->size < 0 && requested == available))
    {
      g_set_error (&request->error, SERVE_ERROR, 416,
                   "Requested more bytes than available: %" G_GUINT64_FORMAT
                   " > %" G_GUINT64_FORMAT,
                   requested, available);
      serve_http_send_range_error (request->msg, request->error, available);
      soup_server_message_unpause (request->msg);
      return FALSE;
    }
  *size = download->size >= 0 ? (guint64)download->size
                              : available - download->offset;
  return TRUE;
}

static void
set_headers (ServeRequest *request, Download *download, guint64 size)
{
  SoupMessageHeaders *headers
      = soup_server_message_get_response_headers (request->msg);
  const char *filename = serve_ticket_get_filename (request->ticket);
  g_autofree char *disposition
      = filename ? g_strdup_printf ("attachment; filename=%s", filename)
                 : g_strdup ("attachment");

  soup_server_message_set_status (request->msg, download->partial ? 206 : 200,
                                  NULL);
  soup_message_headers_set_content_length (headers, size);
  soup_message_headers_replace (headers, "Content-Type",
                                "application/octet-stream");
  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  if (download->partial)
    {
      g_autofree char *range
          = g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                             "/%" G_GUINT64_FORMAT,
                             download->offset, download->offset + size - 1,
                             serve_ticket_get_size (request->ticket));
      soup_message_headers_replace (headers, "Content-Range", range);
    }
}

static void
open_done (gpointer data)
{
  ServeRequest *request = data;
  Download *download = request->data;
  SoupMessageBody *body = soup_server_message_get_response_body (request->msg);
  guint64 size;

  if (request->error)
    {
      serve_request_fail (request);
      return;
    }
  if (!check_available (request, download, &size))
    return;

  set_headers (request, download, size);
  soup_message_body_set_accumulate (body, FALSE);
  download->next = download->offset;
  download->remaining = size;
  g_signal_connect (request->msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk),
                    request);
  if (size == 0)
    {
      serve_request_end_op (request);
      soup_message_body_complete (body);
      soup_server_message_unpause (request->msg);
      return;
    }
  read_next (request);
}

/* The Range header, or the whole image. */
static gboolean
parse_range (SoupServerMessage *msg, Download *download, GError **error)
{
  const char *header = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Range");
  gint64 last;

  download->size = -1;
  if (header == NULL)
    return TRUE;
  if (!serve_http_parse_range (header, &download->offset, &last, error))
    return FALSE;
  download->partial = TRUE;
  if (last >= 0)
    download->size = last - download->offset + 1;
  return TRUE;
}

void
serve_download (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ServeTicket) ticket = NULL;
  g_autofree Download *download = g_new0 (Download, 1);
  ServeRequest *request;

  if (g_strcmp0 (serve_http_query (msg, "close"), "y") == 0)
    serve_http_close_connection (msg);
  if (*id && !parse_range (msg, download, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  ticket = serve_images_authorize (server, msg, id, "read", TRUE);
  if (ticket == NULL)
    return;
  if (download->size >= 0
      && !serve_images_check_range (msg, ticket, download->offset,
                                    download->size))
    return;

  request = serve_request_new (msg, server, ticket);
  request->data = g_steal_pointer (&download);
  request->data_free = download_free;
  serve_request_start (request, ((Download *)request->data)->offset,
                       serve_request_open, open_done);
}
