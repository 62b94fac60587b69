/* serve-request.c: one image request, from its handler to its last byte
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-conn.h"
#include "serve-error.h"
#include "serve-http.h"
#include "serve-image.h"
#include "serve-request.h"

static void
on_finished (SoupServerMessage *msg, ServeRequest *self)
{
  self->finished = TRUE;
  g_signal_handler_disconnect (msg, self->finished_id);
  self->finished_id = 0;
  /* After this no cancel callback can take a reference. */
  if (self->cancel_id)
    g_cancellable_disconnect (self->op->cancellable, self->cancel_id);
  self->cancel_id = 0;
  serve_request_unref (self);
}

static void
give_backend (ServeRequest *self, gboolean lend)
{
  if (self->backend)
    serve_image_release (serve_ticket_get_image (self->ticket),
                         g_steal_pointer (&self->backend), self->error, lend);
}

void
serve_request_put_backend (ServeRequest *self)
{
  give_backend (self, TRUE);
}

void
serve_request_end_op (ServeRequest *self)
{
  give_backend (self, FALSE);
  if (self->op == NULL)
    return;
  if (self->cancel_id)
    g_cancellable_disconnect (self->op->cancellable, self->cancel_id);
  self->cancel_id = 0;
  serve_ticket_end (self->ticket, g_steal_pointer (&self->op));
}

ServeRequest *
serve_request_new (SoupServerMessage *msg, ServeServer *server,
                   ServeTicket *ticket)
{
  ServeRequest *self = g_new0 (ServeRequest, 1);

  g_atomic_ref_count_init (&self->ref);
  self->msg = g_object_ref (msg);
  self->server = server;
  self->ticket = serve_ticket_ref (ticket);
  self->conn = serve_conns_lookup (msg);
  self->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), self);
  return self;
}

static void
serve_request_ref (ServeRequest *self)
{
  g_atomic_ref_count_inc (&self->ref);
}

void
serve_request_unref (ServeRequest *self)
{
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  serve_request_end_op (self);
  if (self->data_free)
    self->data_free (self->data);
  g_clear_error (&self->error);
  serve_ticket_unref (self->ticket);
  g_object_unref (self->msg);
  g_free (self);
}

/* A cancelled ticket ends a request that waits for its client, not only
 * one in a backend call: its connection is shut down. */
static gboolean
shutdown_in_loop (gpointer data)
{
  ServeRequest *self = data;

  self->cancelled = TRUE;
  if (!self->job_running)
    serve_request_end_op (self);
  if (!self->finished)
    {
      GSocket *socket = soup_server_message_get_socket (self->msg);

      if (socket)
        g_socket_shutdown (socket, TRUE, TRUE, NULL);
    }
  serve_request_unref (self);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  ServeRequest *request;
  GMainContext *context;
} CancelData;

static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  CancelData *cancel = data;

  serve_request_ref (cancel->request);
  g_main_context_invoke (cancel->context, shutdown_in_loop, cancel->request);
}

static void
cancel_data_free (gpointer data)
{
  CancelData *cancel = data;

  g_main_context_unref (cancel->context);
  g_free (cancel);
}

gboolean
serve_request_begin (ServeRequest *self, guint64 offset, GError **error)
{
  CancelData *cancel;

  self->op = serve_ticket_begin (self->ticket, offset, error);
  if (self->op == NULL)
    return FALSE;
  cancel = g_new0 (CancelData, 1);
  cancel->request = self;
  cancel->context = g_main_context_ref_thread_default ();
  self->cancel_id
      = g_cancellable_connect (self->op->cancellable, G_CALLBACK (on_cancelled),
                               cancel, cancel_data_free);
  return TRUE;
}

static void
job_done (gpointer data)
{
  ServeRequest *self = data;

  self->job_running = FALSE;
  /* What the job did no longer counts: the operation ended with the
   * cancellation. */
  if (self->cancelled)
    {
      serve_request_end_op (self);
      if (self->error == NULL)
        g_set_error_literal (&self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "cancelled");
    }
  if (!self->finished)
    self->done (self);
  serve_request_unref (self);
}

static void
job_refused (gpointer data)
{
}

void
serve_request_run (ServeRequest *self, ServeJobFunc work, ServeJobFunc done)
{
  serve_request_ref (self);
  self->done = done;
  /* A cancelled request touches the image no more: its job only fails. */
  if (self->cancelled && self->error == NULL)
    g_set_error_literal (&self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         "cancelled");
  self->job_running = !self->cancelled;
  serve_job_run (self->cancelled ? job_refused : work, job_done, self);
}

void
serve_request_start (ServeRequest *self, guint64 offset, ServeJobFunc work,
                     ServeJobFunc done)
{
  g_autoptr (GError) error = NULL;

  if (!serve_request_begin (self, offset, &error))
    {
      serve_http_close_connection (self->msg);
      serve_http_send_error (self->msg, error);
      return;
    }
  soup_server_message_pause (self->msg);
  serve_request_run (self, work, done);
}

GCancellable *
serve_request_cancellable (ServeRequest *self)
{
  return self->op ? self->op->cancellable : NULL;
}

gboolean
serve_request_acquire (ServeRequest *self, GError **error)
{
  if (self->backend)
    return TRUE;
  self->backend
      = serve_image_acquire (serve_ticket_get_image (self->ticket), self->conn,
                             serve_request_cancellable (self), error);
  return self->backend != NULL;
}

void
serve_request_open (gpointer data)
{
  ServeRequest *self = data;

  serve_request_acquire (self, &self->error);
}

void
serve_request_fail (ServeRequest *self)
{
  serve_request_end_op (self);
  if (g_error_matches (self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&self->error);
      g_set_error (&self->error, SERVE_ERROR, 403,
                   "You are not allowed to access this resource: Transfer "
                   "%s was canceled",
                   serve_ticket_get_transfer_id (self->ticket));
      serve_http_close_connection (self->msg);
    }
  /* The backend lost writes this connection had acknowledged (its server
   * restarted) and was closed; this daemon keeps no copy to write them
   * again, its client does. Its connection closes after the 503, so that
   * it sees the connection that took them replaced: an imgxfer client
   * writes them again on a new one, any other gets a failed request
   * rather than a later flush that succeeds over writes that are gone. */
  if (g_error_matches (self->error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED))
    serve_http_close_connection (self->msg);
  serve_http_send_error (self->msg, self->error);
  soup_server_message_unpause (self->msg);
}
