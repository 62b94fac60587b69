/* serve-job.c: blocking backend calls, run off the server threads
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

static GThreadPool *pool;
static GMutex pending_lock;
static GCond pending_cond;
static guint pending;

static gboolean
job_done (gpointer user_data)
{
  Job *job = user_data;

  job->done (job->data);
  g_main_context_unref (job->context);
  g_free (job);

  g_mutex_lock (&pending_lock);
  if (--pending == 0)
    g_cond_broadcast (&pending_cond);
  g_mutex_unlock (&pending_lock);
  return G_SOURCE_REMOVE;
}

static void
job_work (gpointer job_data, gpointer pool_data)
{
  Job *job = job_data;

  job->work (job->data);
  g_main_context_invoke (job->context, job_done, job);
}

void
serve_job_run (ServeJobFunc work, ServeJobFunc done, gpointer data)
{
  static gsize once;
  Job *job = g_new0 (Job, 1);

  if (g_once_init_enter (&once))
    {
      pool = g_thread_pool_new (job_work, NULL, MAX_WORKERS, FALSE, NULL);
      g_once_init_leave (&once, 1);
    }
  job->work = work;
  job->done = done;
  job->data = data;
  job->context = g_main_context_ref_thread_default ();

  g_mutex_lock (&pending_lock);
  pending++;
  g_mutex_unlock (&pending_lock);
  g_thread_pool_push (pool, job, NULL);
}

void
serve_job_drain_in (GMainContext *context)
{
  g_mutex_lock (&pending_lock);
  while (pending > 0)
    {
      g_mutex_unlock (&pending_lock);
      while (g_main_context_iteration (context, FALSE))
        ;
      g_mutex_lock (&pending_lock);
      if (pending > 0)
        g_cond_wait_until (&pending_cond, &pending_lock,
                           g_get_monotonic_time () + G_USEC_PER_SEC / 100);
    }
  g_mutex_unlock (&pending_lock);
}
