/* serve-job.c: blocking backend calls, run off the server threads
 *
 * A pool of its own rather than a GThreadPool: a thread is added as soon
 * as every thread is busy (a slow image must not make another request
 * wait), and at shutdown every thread is joined, so that none is left
 * running when the process exits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-job.h"

/* Each request has at most one job at a time, so the pool holds one
 * thread per busy connection; the bound only guards against floods. */
#define MAX_WORKERS 256

typedef struct
{
  ServeJobFunc work;
  ServeJobFunc done;
  gpointer data;
  GMainContext *context;
} Job;

/* Pushed once per thread at shutdown. */
static Job quit_job;

static GMutex lock;
static GCond drained;
static GAsyncQueue *queue;
static GPtrArray *threads;
static guint available; /* idle threads no job has claimed */
static guint pending;   /* jobs queued or running, or done not yet called */

static void
finish (Job *job)
{
  g_main_context_unref (job->context);
  g_free (job);

  g_mutex_lock (&lock);
  if (--pending == 0)
    g_cond_broadcast (&drained);
  g_mutex_unlock (&lock);
}

static gboolean
job_done (gpointer user_data)
{
  Job *job = user_data;

  job->done (job->data);
  finish (job);
  return G_SOURCE_REMOVE;
}

static gpointer
worker (gpointer data)
{
  for (;;)
    {
      Job *job = g_async_queue_pop (queue);

      if (job == &quit_job)
        return NULL;
      job->work (job->data);
      if (job->done)
        g_main_context_invoke (job->context, job_done, job);
      else
        finish (job);
      g_mutex_lock (&lock);
      available++;
      g_mutex_unlock (&lock);
    }
}

void
serve_job_run (ServeJobFunc work, ServeJobFunc done, gpointer data)
{
  Job *job = g_new0 (Job, 1);

  job->work = work;
  job->done = done;
  job->data = data;
  job->context = g_main_context_ref_thread_default ();

  g_mutex_lock (&lock);
  if (queue == NULL)
    {
      queue = g_async_queue_new ();
      threads = g_ptr_array_new ();
    }
  pending++;
  if (available > 0)
    available--;
  else if (threads->len < MAX_WORKERS)
    g_ptr_array_add (threads, g_thread_new ("imgxfer-job", worker, NULL));
  g_mutex_unlock (&lock);
  g_async_queue_push (queue, job);
}

void
serve_job_drain_in (GMainContext *context)
{
  g_mutex_lock (&lock);
  while (pending > 0)
    {
      g_mutex_unlock (&lock);
      while (g_main_context_iteration (context, FALSE))
        ;
      g_mutex_lock (&lock);
      if (pending > 0)
        g_cond_wait_until (&drained, &lock,
                           g_get_monotonic_time () + G_USEC_PER_SEC / 100);
    }
  g_mutex_unlock (&lock);
}

void
serve_job_shutdown (void)
{
  g_autoptr (GPtrArray) joined = NULL;

  g_mutex_lock (&lock);
  joined = g_steal_pointer (&threads);
  available = 0;
  g_mutex_unlock (&lock);
  if (joined == NULL)
    return;
  for (guint i = 0; i < joined->len; i++)
    g_async_queue_push (queue, &quit_job);
  for (guint i = 0; i < joined->len; i++)
    g_thread_join (joined->pdata[i]);
  g_clear_pointer (&queue, g_async_queue_unref);
}
