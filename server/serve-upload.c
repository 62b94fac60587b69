/* serve-upload.c: PUT /images/ID, streamed into the image
 *
 * The early handler checks the request before its body is read and turns
 * accumulation off; libsoup's small body pieces are gathered into writes
 * of WRITE_SIZE or more, one running while the next fills. When the next
 * one nears twice WRITE_SIZE (a full buffer) the message is paused, so a
 * slow image slows the client instead of filling memory. Buffers come
 * from the daemon's budget (serve-buffer.h): a request waits for its
 * first one with its client paused, and when no second one is to be had
 * it fills the one just written. The normal handler, called when the body
 * is complete, writes the rest, flushes (unless ?flush=n) and answers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-buffer.h"
#include "serve-conn.h"
#include "serve-error.h"
#include "serve-http.h"
#include "serve-image.h"
#include "serve-images.h"
#include "serve-json.h"
#include "serve-request.h"

#define BUFFER_SIZE (2 * 1024 * 1024)
#define WRITE_SIZE (BUFFER_SIZE / 2)
/* Room kept for one more of libsoup's body pieces (8 KiB) in a buffer
 * once its message is paused, so that a buffer never grows. */
#define PIECE_ROOM (64 * 1024)
#define UPLOAD_KEY "imgxfer-serve-upload"

typedef struct
{
  guint64 offset;
  guint64 length;
  gboolean flush;
  guint64 written;     /* bytes handed to writes so far */
  ServeBuffer *fill;   /* gathering the next write; NULL: waiting for one */
  ServeBuffer *buffer; /* being written */
  ServeBufferWait wait;
  guint64 buffer_offset;
  gboolean writing;
  gboolean paused;
  gboolean body_done;
  gboolean final; /* the write running is the last one */
} Upload;

static void
upload_free (gpointer data)
{
  Upload *upload = data;

  serve_buffer_wait_cancel (&upload->wait);
  serve_buffer_give (upload->fill);
  serve_buffer_give (upload->buffer);
  g_free (upload);
}

static void write_next (ServeRequest *request);

/* Stops reading the body for now: the daemon, not the client, is waited
 * for (serve-conn.h). */
static void
pause_body (ServeRequest *request)
{
  Upload *upload = request->data;

  if (upload->paused)
    return;
  upload->paused = TRUE;
  soup_server_message_pause (request->msg);
  serve_conns_pause_body (request->msg, TRUE);
}

static void
resume_body (ServeRequest *request)
{
  Upload *upload = request->data;

  if (!upload->paused)
    return;
  upload->paused = FALSE;
  serve_conns_pause_body (request->msg, FALSE);
  soup_server_message_unpause (request->msg);
}

static void
write_work (gpointer data)
{
  ServeRequest *request = data;
  Upload *upload = request->data;
  GCancellable *cancellable = serve_request_cancellable (request);

  if (!serve_request_acquire (request, &request->error))
    return;
  if (upload->buffer && upload->buffer->len > 0
      && !imgxfer_destination_pwrite (IMGXFER_DESTINATION (request->backend),
                                      upload->buffer->data, upload->buffer->len,
                                      upload->buffer_offset, cancellable,
                                      &request->error))
    return;
  if (!upload->flush)
    serve_image_wrote (serve_ticket_get_image (request->ticket),
                       request->backend, request->conn);
  else if (upload->final)
    serve_image_flush_writes (serve_ticket_get_image (request->ticket),
                              request->backend, request->conn, cancellable,
                              &request->error);
}

static void
write_done (gpointer data)
{
  ServeRequest *request = data;
  Upload *upload = request->data;

  upload->writing = FALSE;
  if (request->error == NULL && upload->buffer)
    serve_ticket_add_done (request->ticket, request->op, upload->buffer->len);
  if (upload->fill == NULL && !upload->final)
    {
      upload->fill = g_steal_pointer (&upload->buffer);
      upload->fill->len = 0;
    }
  serve_buffer_give (g_steal_pointer (&upload->buffer));

  if (upload->final || (request->error && upload->body_done))
    {
      if (request->error)
        serve_request_fail (request);
      else
        {
          serve_request_end_op (request);
          serve_http_send_empty (request->msg, 200);
          soup_server_message_unpause (request->msg);
        }
      return;
    }
  resume_body (request);
  write_next (request);
}

/* Starts the next write when one is due and none runs. */
static void
write_next (ServeRequest *request)
{
  Upload *upload = request->data;

  if (upload->writing || request->error)
    return;
  if (!upload->body_done
      && (upload->fill == NULL || upload->fill->len < WRITE_SIZE))
    return;
  upload->final = upload->body_done;
  upload->buffer = g_steal_pointer (&upload->fill);
  if (!upload->final)
    upload->fill = serve_buffer_take (BUFFER_SIZE, TRUE);
  /* With no buffer to fill the client waits for the write. */
  if (!upload->final && upload->fill == NULL)
    pause_body (request);
  upload->buffer_offset = upload->offset + upload->written;
  upload->written += upload->buffer->len;
  upload->writing = TRUE;
  serve_request_run (request, write_work, write_done);
}

static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, ServeRequest *request)
{
  Upload *upload = request->data;
  gsize length;
  const guint8 *data = g_bytes_get_data (chunk, &length);

  /* After an error the rest of the body is read and dropped. */
  if (request->error)
    return;
  /* The message is paused before a piece could overflow (PIECE_ROOM). */
  g_assert (upload->fill && upload->fill->len + length <= upload->fill->size);
  memcpy (upload->fill->data + upload->fill->len, data, length);
  upload->fill->len += length;
  if (upload->fill->len < WRITE_SIZE)
    return;
  /* While a write runs the next one may grow to twice its size before
   * the client is paused: slack for a busy machine, where every hand-off
   * between threads waits for a core. */
  if (upload->writing && upload->fill->len < upload->fill->size - PIECE_ROOM)
    return;
  if (upload->writing)
    {
      pause_body (request);
      return;
    }
  write_next (request);
}

/* The request's first buffer, or a wait for it with the body unread. */
static void
take_first (gpointer data)
{
  ServeRequest *request = data;
  Upload *upload = request->data;

  if (request->finished)
    return;
  upload->fill = serve_buffer_take (BUFFER_SIZE, FALSE);
  if (upload->fill == NULL)
    {
      pause_body (request);
      serve_buffer_wait (&upload->wait, BUFFER_SIZE, take_first, request);
    }
  else
    resume_body (request);
}

static gboolean
check_request (SoupServerMessage *msg, Upload *upload, GError **error)
{
  const char *range = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Content-Range");
  static const char *const yes_no[] = { "y", "n", NULL };
  const char *flush;
  gint64 last = -1;

  if (!serve_http_content_length (msg, &upload->length, error))
    return FALSE;
  if (range
      && !serve_http_parse_content_range (range, &upload->offset, &last, error))
    return FALSE;
  /* A body longer than its range would write past it. */
  if (last >= 0 && (guint64)last - upload->offset + 1 != upload->length)
    {
      g_autofree char *quoted = serve_repr (range);

      g_set_error (
          error, SERVE_ERROR, 400,
          "Content-Range %s does not match Content-Length %" G_GUINT64_FORMAT,
          quoted, upload->length);
      return FALSE;
    }
  /* For backward compatibility imageio flushes by default. */
  if (!serve_http_query_enum (msg, "flush", yes_no, "y", &flush, error))
    return FALSE;
  upload->flush = g_str_equal (flush, "y");
  return TRUE;
}

void
serve_upload_early (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ServeTicket) ticket = NULL;
  g_autofree Upload *upload = g_new0 (Upload, 1);
  gboolean close = g_strcmp0 (serve_http_query (msg, "close"), "y") == 0;
  ServeRequest *request;

  /* Whatever happens, the body is never gathered in memory. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);

  /* An answer given now comes before the body: the connection closes,
   * since the body that follows is not read. */
  serve_http_close_connection (msg);
  if (*id && !check_request (msg, upload, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  ticket = serve_images_authorize (server, msg, id, "write", TRUE);
  if (ticket == NULL)
    return;
  if (!serve_images_check_range (msg, ticket, upload->offset, upload->length))
    return;

  request = serve_request_new (msg, server, ticket);
  request->data = g_steal_pointer (&upload);
  request->data_free = upload_free;
  if (!serve_request_begin (request, ((Upload *)request->data)->offset, &error))
    {
      serve_http_send_error (msg, error);
      return;
    }
  if (!close)
    soup_message_headers_remove (soup_server_message_get_response_headers (msg),
                                 "Connection");
  g_object_set_data (G_OBJECT (msg), UPLOAD_KEY, request);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), request);
  take_first (request);
}

void
serve_upload (ServeServer *server, SoupServerMessage *msg, const char *id)
{
  ServeRequest *request = g_object_get_data (G_OBJECT (msg), UPLOAD_KEY);
  Upload *upload;

  if (request == NULL)
    return;
  upload = request->data;
  upload->body_done = TRUE;
  soup_server_message_pause (msg);
  if (request->error && !upload->writing)
    {
      serve_request_fail (request);
      return;
    }
  write_next (request);
}
