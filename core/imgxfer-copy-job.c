/* imgxfer-copy-job.c: the workers of one copy
 *
 * The image is cut in large units (128 MiB by default) that the workers
 * claim one at a time from an atomic counter (more at once over a range
 * with nothing to read: see copy_empty_units()); each worker has its own
 * connections (clones) to the source and the destination and its own
 * buffer, so nothing is shared on the hot path but two counters. The
 * first worker runs alone until it has data to read: a copy of an empty
 * image opens no clone and starts no thread. When fewer clones can be had
 * than asked for, fewer workers do the copy. A
 * worker asks the source's extents for its unit only, then per extent:
 *
 *   data  read, then write, in requests of at most the request size; when
 *         sparse, blocks of zeroes in what was read become zero requests
 *   zero  one zero request (the destination splits it at its maximum), or
 *         nothing when the destination is known to read as zeroes
 *   hole  like zero in a full copy; left alone in a shallow copy, so that
 *         a backing file keeps showing through
 *   clean (dirty-only copies) left alone; dirty ranges are copied as above
 *
 * A destination's driver that replaced a connection holding writes not
 * flushed yet says so (IMGXFER_ERROR_RECONNECTED): the worker writes
 * again, from its source, what it wrote since its last flush
 * (imgxfer-copy-replay.c), then sends the request again, as many times
 * in a row as the destination's retries allow.
 *
 * Every destination connection is flushed at the end, once every worker
 * is done writing: a worker that finishes first waits for the others, so
 * that no end's flush runs while a write on another may still fail.
 * Before that, a worker flushes only when what it would write again
 * grows too long (imgxfer-copy-replay.c), which it lists only for a
 * destination that may reconnect (%IMGXFER_BACKEND_MAY_RECONNECT).
 * The first error is kept, cancels the other workers (through a
 * cancellable chained to the caller's) and is the one reported; nothing
 * is flushed after it.
 *
 * A job without a destination only reads: the observer sees every range,
 * data as it was read and zero ranges unread. The checksum runs so
 * (imgxfer-checksum-compute.c); a hole there is read unless it is zero,
 * since it shows what is below it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-copy-private.h"
#include "imgxfer-open-destination-private.h"

#define DEFAULT_CONNECTIONS 4
/* 1 MiB: file to file copies as fast as with 4 MiB (the buffers stay in
 * the CPU caches), and qemu-nbd, which allocates a buffer per request,
 * peaked at 30-50 MiB instead of 130-170 MiB: 4 MiB buffers fragment its
 * heap (measured with qemu 7.2, 2026-11-26). Smaller requests lose: one
 * request is in flight per worker, and 256 KiB made raw -> qemu-nbd 3x
 * slower. */
#define DEFAULT_REQUEST_SIZE (1024 * 1024)
#define DEFAULT_UNIT_SIZE (128 * 1024 * 1024)
/* How far a worker looks past its unit for more with nothing to read, at
 * most: 4 GiB by default, what one NBD block status request covers. */
#define MAX_LOOK_AHEAD 32

/* What the workers of one run share. */
typedef struct
{
  const ImgxferCopyJob *job;
  guint64 size;
  guint64 unit_size;
  guint64 n_units;
  guint64 next_unit; /* atomic */
  gsize request_size;
  gsize zero_block; /* granularity of zero detection */
  gboolean destination_is_zero;
  ImgxferZeroFlags zero_flags;
  gboolean may_reconnect; /* the destination's: its writes are listed */
  guint max_replays;      /* in a row, for one request */
  ImgxferExtentContext context;

  GCancellable *caller;      /* the caller's, may be NULL */
  GCancellable *cancellable; /* cancelled by the first error or the caller */
  GMutex lock;
  GError *error;   /* the first error */
  GCond written;   /* n_writing dropped to 0 */
  guint n_writing; /* workers still copying, under lock */

  struct _Worker *workers; /* the first runs in the caller's thread */
  guint n_workers;         /* asked for; fewer may start */
  gboolean others_started; /* only ever touched by the first worker */
} Run;

typedef struct _Worker
{
  Run *run;
  ImgxferBackend *source;
  ImgxferBackend *destination;
  guint8 *buffer;
  ImgxferCopyReplay written; /* since the destination's last flush */
  GThread *thread;
  gboolean after_empty; /* its last unit ended with nothing to read */
  guint look_ahead;     /* units, see copy_empty_units() */
} Worker;

/* Keeps the first error and stops everybody. Later errors are most often
 * the cancellation that the first one caused. */
static void
run_fail (Run *run, GError *error)
{
  g_mutex_lock (&run->lock);
  if (run->error == NULL)
    run->error = g_steal_pointer (&error);
  g_mutex_unlock (&run->lock);
  g_clear_error (&error);

  g_cancellable_cancel (run->cancellable);
}

/* The caller's cancellation reaches run->cancellable through a signal
 * handler that may run a little later, in the thread that cancelled:
 * checking both before each request stops every worker at once. */
static gboolean
run_check_cancelled (Run *run, GError **error)
{
  return g_cancellable_set_error_if_cancelled (run->caller, error)
         || g_cancellable_set_error_if_cancelled (run->cancellable, error);
}

/* Where the run ends now: see ImgxferCopyJob.limit. */
static guint64
run_limit (Run *run)
{
  if (run->job->limit == NULL)
    return run->size;
  return MIN (run->size, __atomic_load_n (run->job->limit, __ATOMIC_RELAXED));
}

static gboolean start_other_workers (Worker *w, GError **error);

static void
report (Worker *w, guint64 length)
{
  const ImgxferCopyJob *job = w->run->job;

  __atomic_add_fetch (job->done, length, __ATOMIC_RELAXED);
  if (job->progress_func)
    job->progress_func (length, job->progress_data);
}

static void
observe (Worker *w,
         guint64 offset,
         guint64 length,
         const void *data,
         ImgxferExtentFlags flags)
{
  const ImgxferCopyJob *job = w->run->job;

  if (job->observer_func)
    job->observer_func (offset, length, data, flags, job->observer_data);
}

/* One request to the worker's destination, its arguments in @args. */
typedef gboolean (*DestinationRequest) (Worker *w, gconstpointer args,
                                        GError **error);

/* A give-up after @replays replays in a row, in one line. */
static void
set_replay_error (guint replays, GError *reconnected, GError **error)
{
  if (replays == 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "%s; not written again: no retries are allowed",
                 reconnected->message);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "%s; written again %u times in a row already, as many as "
                 "the retries allowed",
                 reconnected->message, replays);
}

/* Sends @request; when the destination replaced its connection, writes
 * again what the worker wrote since its last flush and sends @request
 * again (see the top of the file). A replaced connection during the
 * replay starts it again, counted too. */
static gboolean
send_request (Worker *w, DestinationRequest request, gconstpointer args,
              GError **error)
{
  Run *run = w->run;

  for (guint replays = 0;; replays++)
    {
      g_autoptr (GError) local_error = NULL;

      if ((replays == 0
           || _imgxfer_copy_replay_run (&w->written, run->cancellable,
                                        &local_error))
          && request (w, args, &local_error))
        return TRUE;
      if (!g_error_matches (local_error, IMGXFER_ERROR,
                            IMGXFER_ERROR_RECONNECTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (replays == run->max_replays)
        {
          set_replay_error (replays, local_error, error);
          return FALSE;
        }
      /* As the drivers say that they send a request again. */
      g_message ("retrying the %" G_GUINT64_FORMAT
                 " bytes written to %s since its last flush after: %s (%u/%u)",
                 _imgxfer_copy_replay_get_bytes (&w->written),
                 imgxfer_backend_get_url (w->destination), local_error->message,
                 replays + 1, run->max_replays);
    }
}

static gboolean
flush_request (Worker *w, gconstpointer args, GError **error)
{
  return imgxfer_destination_flush (IMGXFER_DESTINATION (w->destination),
                                    w->run->cancellable, error);
}

/* Makes the worker's writes durable: none needs writing again then. */
static gboolean
flush_destination (Worker *w, GError **error)
{
  if (!send_request (w, flush_request, NULL, error))
    return FALSE;
  _imgxfer_copy_replay_forget (&w->written);
  return TRUE;
}

/* Notes a range written, when the destination may ask for it again;
 * flushes once a replay would cost too much. A destination that never
 * reconnects is flushed at the end only. */
static gboolean
note_written (Worker *w, guint64 offset, guint64 length, gboolean zero,
              GError **error)
{
  return !w->run->may_reconnect
         || !_imgxfer_copy_replay_add (&w->written, offset, length, zero)
         || flush_destination (w, error);
}

typedef struct
{
  const guint8 *data; /* NULL: zeroes */
  guint64 offset;
  guint64 length;
} Range;

static gboolean
zero_request (Worker *w, gconstpointer args, GError **error)
{
  const Range *range = args;

  return imgxfer_destination_zero (
      IMGXFER_DESTINATION (w->destination), range->offset, range->length,
      w->run->zero_flags, w->run->cancellable, error);
}

static gboolean
write_request (Worker *w, gconstpointer args, GError **error)
{
  const Range *range = args;

  return imgxfer_destination_pwrite (IMGXFER_DESTINATION (w->destination),
                                     range->data, range->length, range->offset,
                                     w->run->cancellable, error);
}

/* One zero request, or none when the destination already reads as
 * zeroes. Deallocating is allowed only when the copy is sparse. */
static gboolean
zero_range (Worker *w, guint64 offset, guint64 length, GError **error)
{
  Run *run = w->run;
  const Range range = { NULL, offset, length };

  if (run_check_cancelled (run, error))
    return FALSE;
  if (!run->destination_is_zero
      && (!start_other_workers (w, error)
          || !send_request (w, zero_request, &range, error)
          || !note_written (w, offset, length, TRUE, error)))
    return FALSE;

  report (w, length);
  return TRUE;
}

static gboolean
write_range (Worker *w,
             const guint8 *data,
             guint64 offset,
             gsize length,
             GError **error)
{
  const Range range = { data, offset, length };

  if (run_check_cancelled (w->run, error)
      || !send_request (w, write_request, &range, error)
      || !note_written (w, offset, length, FALSE, error))
    return FALSE;

  report (w, length);
  return TRUE;
}

/* Writes what was read, as data and zero requests. */
static gboolean
write_sparse (Worker *w, guint64 offset, gsize length, GError **error)
{
  gsize done = 0;

  while (done < length)
    {
      gboolean is_zero;
      gsize n = _imgxfer_copy_zero_run (w->buffer + done, length - done,
                                        offset + done, w->run->zero_block,
                                        &is_zero);

      if (is_zero ? !zero_range (w, offset + done, n, error)
                  : !write_range (w, w->buffer + done, offset + done, n,
                                  error))
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* A job without a destination: what was read was all there was to do. */
static gboolean
scan_only (Worker *w, gsize length)
{
  report (w, length);
  return TRUE;
}

static gboolean
copy_data (Worker *w, guint64 offset, guint64 length, GError **error)
{
  Run *run = w->run;

  if (!start_other_workers (w, error))
    return FALSE;

  while (length > 0 && offset < run_limit (run))
    {
      gsize n = MIN (length, run->request_size);

      if (run_check_cancelled (run, error)
          || !imgxfer_source_pread (IMGXFER_SOURCE (w->source), w->buffer, n,
                                    offset, run->cancellable, error))
        return FALSE;

      observe (w, offset, n, w->buffer, IMGXFER_EXTENT_DATA);

      if (run->job->destination == NULL ? !scan_only (w, n)
          : run->job->sparse            ? !write_sparse (w, offset, n, error)
                             : !write_range (w, w->buffer, offset, n, error))
        return FALSE;

      offset += n;
      length -= n;
    }
  return TRUE;
}

/* A range the copy leaves as it is on the destination. */
static void
skip_range (Worker *w, const ImgxferExtent *e)
{
  observe (w, e->start, e->length, NULL, e->flags);
  report (w, e->length);
}

static gboolean
copy_extent (Worker *w, const ImgxferExtent *e, GError **error)
{
  const ImgxferCopyJob *job = w->run->job;

  if (job->destination == NULL)
    {
      if (!(e->flags & IMGXFER_EXTENT_ZERO))
        return copy_data (w, e->start, e->length, error);
      skip_range (w, e);
      return TRUE;
    }

  if (job->dirty_only && !(e->flags & IMGXFER_EXTENT_DIRTY))
    {
      skip_range (w, e);
      return TRUE;
    }

  if (e->flags & IMGXFER_EXTENT_HOLE)
    {
      if (job->shallow)
        {
          skip_range (w, e);
          return TRUE;
        }
      observe (w, e->start, e->length, NULL, e->flags);
      return zero_range (w, e->start, e->length, error);
    }

  if (e->flags & IMGXFER_EXTENT_ZERO)
    {
      observe (w, e->start, e->length, NULL, e->flags);
      return zero_range (w, e->start, e->length, error);
    }

  return copy_data (w, e->start, e->length, error);
}

/* Zeroes, holes, clean ranges of a dirty-only copy: at most one request
 * to the destination, whatever their length. */
static gboolean
nothing_to_read (const ImgxferCopyJob *job, const ImgxferExtent *e)
{
  if (job->destination == NULL)
    return (e->flags & IMGXFER_EXTENT_ZERO) != 0;
  if (job->dirty_only && !(e->flags & IMGXFER_EXTENT_DIRTY))
    return TRUE;
  return (e->flags & (IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE)) != 0;
}

/* After a unit that ended with nothing to read, the next units are
 * likely empty too: the source is asked about those from the first one
 * nobody has claimed, and the units that its first extent covers whole,
 * with nothing to read either, are claimed at once and copied as that one
 * extent. Each time this pays, the worker looks twice as far. An empty
 * 100 GiB image then costs a few dozen calls of extents instead of 800,
 * while units with data are still shared one at a time. @claimed says
 * whether anything was claimed; if not, the worker claims one unit. */
static gboolean
copy_empty_units (Worker *w, gboolean *claimed, GError **error)
{
  Run *run = w->run;
  guint64 unit = __atomic_load_n (&run->next_unit, __ATOMIC_RELAXED);
  guint64 start = unit * run->unit_size;
  g_autoptr (GArray) extents = NULL;
  ImgxferExtent e;
  guint64 last;

  *claimed = FALSE;
  if (unit >= run->n_units || start >= run_limit (run))
    return TRUE;

  extents = imgxfer_source_extents (
      IMGXFER_SOURCE (w->source), run->context, start,
      MIN (w->look_ahead * run->unit_size, run->size - start),
      run->cancellable, error);
  if (extents == NULL)
    return FALSE;
  e = g_array_index (extents, ImgxferExtent, 0);

  /* Whole units only, but for the last one of the image. */
  last = e.start + e.length >= run->size ? run->n_units
                                         : (e.start + e.length)
                                               / run->unit_size;
  if (!nothing_to_read (run->job, &e) || last <= unit)
    {
      w->after_empty = FALSE;
      return TRUE;
    }
  /* Another worker claimed it meanwhile: take the next unit instead. */
  if (!__atomic_compare_exchange_n (&run->next_unit, &unit, last, FALSE,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    return TRUE;

  e.length = MIN (last * run->unit_size, run->size) - e.start;
  if (!copy_extent (w, &e, error))
    return FALSE;
  *claimed = TRUE;
  w->look_ahead = MIN (w->look_ahead * 2, MAX_LOOK_AHEAD);
  return TRUE;
}

static gboolean
copy_unit (Worker *w, guint64 unit, GError **error)
{
  Run *run = w->run;
  guint64 offset = unit * run->unit_size;
  guint64 end = MIN (offset + run->unit_size, run->size);

  while (offset < MIN (end, run_limit (run)))
    {
      g_autoptr (GArray) extents = imgxfer_source_extents (
          IMGXFER_SOURCE (w->source), run->context, offset, end - offset,
          run->cancellable, error);

      if (extents == NULL)
        return FALSE;

      for (guint i = 0; i < extents->len; i++)
        {
          const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

          if (e->start >= run_limit (run))
            break;
          if (!copy_extent (w, e, error))
            return FALSE;
          offset = e->start + e->length;
          w->after_empty = nothing_to_read (run->job, e);
        }
    }
  if (!w->after_empty)
    w->look_ahead = 1;
  return TRUE;
}

static gboolean
worker_copy (Worker *w, GError **error)
{
  Run *run = w->run;

  w->look_ahead = 1;
  for (;;)
    {
      gboolean claimed = FALSE;
      guint64 unit;

      if (run_check_cancelled (run, error))
        return FALSE;
      if (w->after_empty && !copy_empty_units (w, &claimed, error))
        return FALSE;
      if (claimed)
        continue;

      unit = __atomic_fetch_add (&run->next_unit, 1, __ATOMIC_RELAXED);
      if (unit >= run->n_units || unit * run->unit_size >= run_limit (run))
        break;
      if (!copy_unit (w, unit, error))
        return FALSE;
    }

  return TRUE;
}

/* Called by each worker once it has nothing more to write, after any
 * error of its own was kept: returns when no worker writes anymore, so
 * that the error of any of them is known to all. */
static void
run_wait_written (Run *run)
{
  g_mutex_lock (&run->lock);
  if (--run->n_writing == 0)
    g_cond_broadcast (&run->written);
  while (run->n_writing > 0)
    g_cond_wait (&run->written, &run->lock);
  g_mutex_unlock (&run->lock);
}

/* Every write of the copy is done: this connection's are made durable,
 * unless the copy failed meanwhile. */
static gboolean
worker_flush (Worker *w, GError **error)
{
  Run *run = w->run;

  if (run_check_cancelled (run, error))
    return FALSE;
  return flush_destination (w, error);
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  Run *run = w->run;
  GError *error = NULL;
  gboolean ok;

  w->buffer
      = g_aligned_alloc (1, run->request_size, IMGXFER_COPY_BUFFER_ALIGNMENT);
  _imgxfer_copy_replay_init (&w->written, w->source, w->destination,
                             run->request_size, run->zero_flags);
  ok = worker_copy (w, &error);
  if (!ok)
    run_fail (run, g_steal_pointer (&error));
  g_clear_pointer (&w->buffer, g_aligned_free);

  run_wait_written (run);
  if (ok && w->destination != NULL && !worker_flush (w, &error))
    run_fail (run, error);
  _imgxfer_copy_replay_clear (&w->written);
  return NULL;
}

static gboolean
check_backends (const ImgxferCopyJob *job, GError **error)
{
  const char *dst_url;
  guint64 src_size = imgxfer_backend_get_size (job->source);

  if (job->destination == NULL)
    return TRUE;
  dst_url = imgxfer_backend_get_url (job->destination);
  if (!(imgxfer_backend_get_caps (job->destination)
        & IMGXFER_BACKEND_CAN_WRITE))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the destination is not open for writing", dst_url);
      return FALSE;
    }

  /* Also for callers that did not open the destination with
   * imgxfer_open_destination(). */
  return _imgxfer_destination_check_size (job->destination, src_size,
                                          job->source, error);
}

/* Zero blocks are found at the destination's preferred block size when
 * it is larger than 4 KiB (a compressed qcow2 target wants whole 64 KiB
 * clusters), so that data writes are never split below it. */
static gsize
zero_block (const ImgxferCopyJob *job)
{
  guint32 preferred;

  if (job->destination == NULL)
    return IMGXFER_COPY_ZERO_BLOCK;
  imgxfer_backend_get_block_sizes (job->destination, NULL, &preferred, NULL);
  if (preferred > IMGXFER_COPY_ZERO_BLOCK && (preferred & (preferred - 1)) == 0)
    return preferred;
  return IMGXFER_COPY_ZERO_BLOCK;
}

static gsize
request_size (const ImgxferCopyJob *job, gsize block)
{
  gsize size = job->request_size ? job->request_size : DEFAULT_REQUEST_SIZE;
  guint32 src_min, src_pref, src_max;
  guint32 dst_min = 1, dst_pref = 0, dst_max = G_MAXUINT32;

  imgxfer_backend_get_block_sizes (job->source, &src_min, &src_pref,
                                   &src_max);
  if (job->destination != NULL)
    imgxfer_backend_get_block_sizes (job->destination, &dst_min, &dst_pref,
                                     &dst_max);
  /* By default, as large as either side prefers: a request to an HTTP
   * server costs a round trip, which 1 MiB requests do not amortize. */
  if (job->request_size == 0)
    size = MAX (size, MAX (src_pref, dst_pref));
  /* Never less than a block: smaller requests would be unaligned, and
   * each costs a call (1-byte requests took minutes for megabytes). */
  size = MAX (size, MAX (block, MAX (src_min, dst_min)));
  size = MIN (size, MIN (src_max, dst_max));

  /* Whole blocks keep requests aligned for the storage underneath. */
  if (size > block)
    size -= size % block;
  return size;
}

static guint
count_workers (const ImgxferCopyJob *job, guint64 n_units)
{
  guint64 n = job->connections ? job->connections : DEFAULT_CONNECTIONS;

  n = MIN (n, imgxfer_backend_get_max_connections (job->source));
  if (job->destination != NULL)
    n = MIN (n, imgxfer_backend_get_max_connections (job->destination));
  n = MIN (n, n_units);
  /* A 0-byte image still gets one worker, which flushes. */
  return MAX (n, 1);
}

static void
run_init (Run *run, const ImgxferCopyJob *job, GCancellable *caller)
{
  run->job = job;
  run->caller = caller;
  run->size = imgxfer_backend_get_size (job->source);
  run->unit_size = job->unit_size ? job->unit_size : DEFAULT_UNIT_SIZE;
  run->n_units = (run->size + run->unit_size - 1) / run->unit_size;
  run->zero_block = zero_block (job);
  run->request_size = request_size (job, run->zero_block);
  /* A shallow copy goes onto a layer whose unallocated ranges show its
   * backing file, so whatever the caller says it does not read as zeroes:
   * a zeroed range of the top layer must be written to hide the base. */
  run->destination_is_zero
      = job->destination == NULL
        || (!job->shallow
            && (job->target_is_zero
                || (imgxfer_backend_get_caps (job->destination)
                    & IMGXFER_BACKEND_IS_ZERO)));
  run->zero_flags = job->sparse ? IMGXFER_ZERO_MAY_TRIM : IMGXFER_ZERO_NONE;
  run->may_reconnect = job->destination != NULL
                       && (imgxfer_backend_get_caps (job->destination)
                           & IMGXFER_BACKEND_MAY_RECONNECT);
  run->max_replays = job->destination == NULL
                         ? 0
                         : imgxfer_open_options_get_retries (
                             imgxfer_backend_get_options (job->destination));
  run->context = job->dirty_only ? IMGXFER_EXTENT_CONTEXT_DIRTY
                                 : IMGXFER_EXTENT_CONTEXT_ZERO;
  run->cancellable = g_cancellable_new ();
  g_mutex_init (&run->lock);
  g_cond_init (&run->written);
  run->n_writing = 1; /* the first worker */
}

static void
run_clear (Run *run)
{
  g_clear_object (&run->cancellable);
  g_mutex_clear (&run->lock);
  g_cond_clear (&run->written);
  g_clear_error (&run->error);
}

/* Opens a worker's two clones, or neither. */
static gboolean
worker_open (Run *run, Worker *w, GError **error)
{
  const ImgxferCopyJob *job = run->job;

  w->source = imgxfer_backend_clone (job->source, run->cancellable, error);
  if (w->source == NULL || job->destination == NULL)
    return w->source != NULL;
  w->destination
      = imgxfer_backend_clone (job->destination, run->cancellable, error);
  if (w->destination == NULL)
    {
      g_clear_object (&w->source);
      return FALSE;
    }
  return TRUE;
}

/* Workers 1..n-1 get clones, as many as can be had: a server may serve
 * fewer clients than it lets us open (qemu-nbd beyond its --shared limit
 * never answers), and since the workers claim units from a shared
 * counter, fewer workers copy the same image. After the first clone that
 * fails no more are tried: they would most likely fail the same way, each
 * after the same wait. Fails only when the copy was cancelled meanwhile. */
static gboolean
open_other_workers (Run *run, guint *n_open, GError **error)
{
  g_autoptr (GError) clone_error = NULL;
  guint n = 1;

  while (n < run->n_workers
         && worker_open (run, &run->workers[n], &clone_error))
    n++;
  *n_open = n;

  if (n < run->n_workers)
    {
      if (run_check_cancelled (run, error))
        return FALSE;
      g_message ("%s with %u connections instead of %u: %s",
                 run->job->destination ? "Copying" : "Reading", n,
                 run->n_workers, clone_error->message);
    }
  return TRUE;
}

/* The first worker starts the others when it first has a request to
 * send: until then there may be nothing to copy at all. */
static gboolean
start_other_workers (Worker *w, GError **error)
{
  Run *run = w->run;
  guint n_open;

  if (w != &run->workers[0] || run->others_started)
    return TRUE;
  run->others_started = TRUE;
  if (!open_other_workers (run, &n_open, error))
    return FALSE;

  for (guint i = 1; i < n_open; i++)
    {
      GError *thread_error = NULL;

      /* Counted before it starts: this worker still writes, so the count
       * cannot drop to 0 meanwhile. */
      g_mutex_lock (&run->lock);
      run->n_writing++;
      g_mutex_unlock (&run->lock);
      run->workers[i].thread = g_thread_try_new (
          "imgxfer-copy", worker_thread, &run->workers[i], &thread_error);
      if (run->workers[i].thread == NULL)
        {
          g_mutex_lock (&run->lock);
          run->n_writing--;
          g_mutex_unlock (&run->lock);
          run_fail (run, thread_error);
          break;
        }
    }
  return TRUE;
}

static void
workers_init (Run *run, guint n_workers)
{
  run->n_workers = n_workers;
  run->workers = g_new0 (Worker, n_workers);
  for (guint i = 0; i < n_workers; i++)
    run->workers[i].run = run;
  /* The first worker uses the caller's connections. */
  run->workers[0].source = g_object_ref (run->job->source);
  if (run->job->destination != NULL)
    run->workers[0].destination = g_object_ref (run->job->destination);
}

/* Runs the first worker here, then waits for the others. */
static void
workers_run (Run *run)
{
  worker_thread (&run->workers[0]);

  for (guint i = 1; i < run->n_workers; i++)
    if (run->workers[i].thread)
      g_thread_join (run->workers[i].thread);
}

/* A clone is closed here, where an error found only then (a write-back
 * error, a helper that did not end well) can still fail the copy. */
static void
close_clone (Run *run, ImgxferBackend *clone)
{
  GError *error = NULL;

  if (clone != NULL
      && !imgxfer_backend_close (clone, IMGXFER_CLOSE_NONE, NULL, &error))
    run_fail (run, error);
}

/* The first worker's backends are the caller's, to close when it likes. */
static void
workers_clear (Run *run)
{
  for (guint i = 0; i < run->n_workers; i++)
    {
      if (i > 0)
        {
          close_clone (run, run->workers[i].source);
          close_clone (run, run->workers[i].destination);
        }
      g_clear_object (&run->workers[i].source);
      g_clear_object (&run->workers[i].destination);
    }
  g_clear_pointer (&run->workers, g_free);
}

static void
cancel_run (GCancellable *caller, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

gboolean
_imgxfer_copy_job_run (const ImgxferCopyJob *job,
                       GCancellable *cancellable,
                       GError **error)
{
  Run run = { 0 };
  gulong handler = 0;

  if (!check_backends (job, error))
    return FALSE;

  run_init (&run, job, cancellable);
  if (cancellable)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_run),
                                     g_object_ref (run.cancellable),
                                     g_object_unref);

  workers_init (&run, count_workers (job, run.n_units));
  workers_run (&run);
  workers_clear (&run);

  if (cancellable)
    g_cancellable_disconnect (cancellable, handler);

  /* A worker that saw the cancellation between two requests stops
   * without an error of its own. */
  if (run.error == NULL)
    run_check_cancelled (&run, &run.error);

  if (run.error)
    {
      g_propagate_error (error, g_steal_pointer (&run.error));
      run_clear (&run);
      return FALSE;
    }
  run_clear (&run);
  return TRUE;
}
