/* serve-request.h: one image request, from its handler to its last byte
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>
#include <libsoup/soup.h>

#include "serve-job.h"
#include "serve-server.h"
#include "serve-ticket.h"

G_BEGIN_DECLS

/* Lives in the server thread of its message. Its backend calls run as
 * jobs (serve-job.h), one at a time; it ends when libsoup finishes the
 * message and no job is running, and only then gives its backend back and
 * ends its ticket operation. */
typedef struct _ServeRequest ServeRequest;
struct _ServeRequest
{
  gatomicrefcount ref;
  SoupServerMessage *msg;
  ServeServer *server;
  ServeTicket *ticket;
  gconstpointer conn; /* the client connection: its backends' owner */
  ServeOp *op;
  ImgxferBackend *backend;
  GError *error;
  gboolean finished;
  gboolean cancelled; /* the ticket was cancelled: no more backend calls */
  gboolean job_running;
  gulong finished_id;
  gulong cancel_id;
  ServeJobFunc done;
  gpointer data;
  GDestroyNotify data_free;
};

ServeRequest *serve_request_new (SoupServerMessage *msg, ServeServer *server,
                                 ServeTicket *ticket);
void serve_request_unref (ServeRequest *self);

/* Registers the request as an operation on its ticket at @offset: a
 * cancelled ticket stops it from then on. */
gboolean serve_request_begin (ServeRequest *self, guint64 offset,
                              GError **error);

/* serve_request_begin() at @offset, then serve_request_run() with the
 * message paused; when the ticket refuses, answers with its error and
 * closes the connection. */
void serve_request_start (ServeRequest *self, guint64 offset, ServeJobFunc work,
                          ServeJobFunc done);
/* Runs @work (a worker thread) then @done (this thread) unless the
 * message finished meanwhile. Both get the request. */
void serve_request_run (ServeRequest *self, ServeJobFunc work,
                        ServeJobFunc done);

/* Gives the backend back and ends the ticket operation: the request
 * touches the image no more. Called before the answer that says so, so
 * that a client that heard it finds the backend free (and the image's
 * write lock with it: a ticket replaced then can open it); at the latest
 * when the request ends. */
void serve_request_end_op (ServeRequest *self);

/* Gives the backend back for now, lent (serve-image.h): the next job
 * acquires one again, the same one once the ticket is gone. */
void serve_request_put_backend (ServeRequest *self);

/* From a job: the request's backend, acquired on first use. */
gboolean serve_request_acquire (ServeRequest *self, GError **error);
/* A job that only acquires the backend, into the request's error when
 * that fails: the work of a request that answers once the image is open. */
void serve_request_open (gpointer data);
GCancellable *serve_request_cancellable (ServeRequest *self);

/* Answers with @self->error, or closes the connection when the response
 * had started. */
void serve_request_fail (ServeRequest *self);

G_END_DECLS
