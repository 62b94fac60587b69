/* serve-job.h: blocking backend calls, run off the server threads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*ServeJobFunc) (gpointer data);

/* Runs @work in a worker thread, then @done in the main context that was
 * the thread default when this was called: a server thread hands a
 * backend call away and hears back in its own loop, so a slow image never
 * stalls the other connections. @done may be NULL: nothing is told, and
 * the job does not wait for the caller's loop (which may be gone by the
 * time it ends). */
void serve_job_run (ServeJobFunc work, ServeJobFunc done, gpointer data);

/* Waits for every job queued so far, dispatching @context meanwhile (the
 * caller's: some jobs answer there); for shutdown. */
void serve_job_drain_in (GMainContext *context);

/* Stops and joins every worker thread; after serve_job_drain_in(). */
void serve_job_shutdown (void);

G_END_DECLS
