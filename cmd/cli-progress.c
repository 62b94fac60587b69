/* cli-progress.c: a progress indicator on stderr, or JSON lines on stdout
 *
 * The copy workers add to an atomic counter; at most every 100 ms, the
 * one worker that wins the turn draws it, under a lock that keeps the
 * final line last, so printing never slows the copy and needs no main
 * loop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>

#include "cli-progress.h"

#define REDRAW_INTERVAL_MS 100

struct _CliProgress
{
  guint64 total;
  _Atomic guint64 done;
  _Atomic gint64 next_draw; /* monotonic time of the next redraw */
  GMutex lock;              /* drawing, and what follows */
  gboolean finished;
  int last_hundredths; /* what was printed last, -1 for nothing */
  gboolean json;
  gint64 start;
  guint64 last_done; /* JSON: what was printed last */
};

/* Hundredths of a percent, so that the line changes only when the
 * printed number does. An empty image is complete from the start. */
static int
hundredths (CliProgress *self)
{
  guint64 done = atomic_load (&self->done);

  if (self->total == 0)
    return 10000;
  return (int)(MIN (done, self->total) * 10000 / self->total);
}

/* One object per line, as ovirt-img prints them for the tools that drive
 * it. */
static void
draw_json (CliProgress *self, guint64 done)
{
  if (done == self->last_done && self->last_hundredths >= 0)
    return;
  self->last_done = done;
  self->last_hundredths = 0;
  printf ("{\"transferred\": %" G_GUINT64_FORMAT
          ", \"size\": %" G_GUINT64_FORMAT ", \"elapsed\": %.3f}\n",
          done, self->total,
          (g_get_monotonic_time () - self->start) / (double)G_USEC_PER_SEC);
  fflush (stdout);
}

static void
draw (CliProgress *self, int value)
{
  if (self->json)
    {
      guint64 done = MIN (atomic_load (&self->done), self->total);

      /* The whole size only once the copy is complete (see on_timer). */
      draw_json (self, value == 10000
                           ? self->total
                           : MIN (done, self->total - (self->total > 0)));
      return;
    }
  if (value == self->last_hundredths)
    return;
  self->last_hundredths = value;
  fprintf (stderr, "    (%d.%02d/100%%)\r", value / 100, value % 100);
  fflush (stderr);
}

static void
redraw (CliProgress *self)
{
  g_mutex_lock (&self->lock);
  /* 100% is printed only by cli_progress_finish(), once the destination
   * is flushed: until then the copy is not complete. */
  if (!self->finished)
    draw (self, MIN (hundredths (self), 9999));
  g_mutex_unlock (&self->lock);
}

CliProgress *
cli_progress_new (guint64 total, gboolean json)
{
  CliProgress *self = g_new0 (CliProgress, 1);

  self->total = total;
  self->json = json;
  self->start = g_get_monotonic_time ();
  self->last_hundredths = -1;
  atomic_init (&self->done, 0);
  atomic_init (&self->next_draw,
               self->start + REDRAW_INTERVAL_MS * G_TIME_SPAN_MILLISECOND);
  g_mutex_init (&self->lock);

  draw (self, 0);
  return self;
}

void
cli_progress_add (CliProgress *self, guint64 length)
{
  gint64 now, next;

  atomic_fetch_add (&self->done, length);

  now = g_get_monotonic_time ();
  next = atomic_load (&self->next_draw);
  if (now >= next
      && atomic_compare_exchange_strong (
          &self->next_draw, &next,
          now + REDRAW_INTERVAL_MS * G_TIME_SPAN_MILLISECOND))
    redraw (self);
}

void
cli_progress_finish (CliProgress *self, gboolean success)
{
  g_mutex_lock (&self->lock);
  if (self->finished)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->finished = TRUE;
  if (success)
    draw (self, 10000);
  if (!self->json)
    {
      fputc ('\n', stderr);
      fflush (stderr);
    }
  g_mutex_unlock (&self->lock);
}

void
cli_progress_free (CliProgress *self)
{
  if (self == NULL)
    return;
  g_mutex_clear (&self->lock);
  g_free (self);
}
