/* imgxfer-copy.c: the copy engine's object: settings, runs, progress
 *
 * The copying itself is in imgxfer-copy-job.c; this file holds what a
 * caller sees: the settings, the synchronous and asynchronous runs, and
 * progress reported on the caller's main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-copy.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-copy-private.h"

/* At most this often "progress" is emitted while copying. */
#define PROGRESS_INTERVAL_MS 100

struct _ImgxferCopy
{
  GObject parent_instance;

  /* The settings, which the workers read while a run goes on. The job
   * holds references to the backends. */
  ImgxferCopyJob job;
  GDestroyNotify progress_notify;
  ImgxferChecksum *checksum;

  guint64 done; /* atomic */
  gboolean running;
  GSource *progress_source;
  guint64 last_emitted;
};

enum
{
  PROP_0,
  PROP_SOURCE,
  PROP_DESTINATION,
  N_PROPS
};

enum
{
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ImgxferCopy, imgxfer_copy, G_TYPE_OBJECT)

static void
imgxfer_copy_finalize (GObject *object)
{
  ImgxferCopy *self = IMGXFER_COPY (object);

  if (self->progress_notify)
    self->progress_notify (self->job.progress_data);
  g_clear_pointer (&self->checksum, imgxfer_checksum_unref);
  g_clear_object (&self->job.source);
  g_clear_object (&self->job.destination);

  G_OBJECT_CLASS (imgxfer_copy_parent_class)->finalize (object);
}

static void
imgxfer_copy_get_property (GObject *object,
                           guint prop_id,
                           GValue *value,
                           GParamSpec *pspec)
{
  ImgxferCopy *self = IMGXFER_COPY (object);

  switch (prop_id)
    {
    case PROP_SOURCE:
      g_value_set_object (value, self->job.source);
      break;
    case PROP_DESTINATION:
      g_value_set_object (value, self->job.destination);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
imgxfer_copy_set_property (GObject *object,
                           guint prop_id,
                           const GValue *value,
                           GParamSpec *pspec)
{
  ImgxferCopy *self = IMGXFER_COPY (object);

  switch (prop_id)
    {
    case PROP_SOURCE:
      self->job.source = g_value_dup_object (value);
      break;
    case PROP_DESTINATION:
      self->job.destination = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
imgxfer_copy_class_init (ImgxferCopyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = imgxfer_copy_finalize;
  object_class->get_property = imgxfer_copy_get_property;
  object_class->set_property = imgxfer_copy_set_property;

  /**
   * ImgxferCopy:source:
   *
   * The image copied from: an open #ImgxferSource.
   *
   * Since: 0.1
   */
  properties[PROP_SOURCE] = g_param_spec_object (
      "source", NULL, NULL, IMGXFER_TYPE_SOURCE,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ImgxferCopy:destination:
   *
   * The image copied to: an #ImgxferDestination open for writing.
   *
   * Since: 0.1
   */
  properties[PROP_DESTINATION] = g_param_spec_object (
      "destination", NULL, NULL, IMGXFER_TYPE_DESTINATION,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ImgxferCopy::progress:
   * @copy: the copy
   * @done: bytes copied so far
   * @total: bytes to copy, the size of the source
   *
   * Emitted during imgxfer_copy_run_async(), on the thread-default main
   * context of the thread that started it, at most every 100 ms while
   * bytes are being copied, and once more when the run ends (before its
   * callback is called). The synchronous imgxfer_copy_run() iterates no
   * context and does not emit it: use imgxfer_copy_set_progress_func()
   * there.
   *
   * Since: 0.1
   */
  signals[SIGNAL_PROGRESS] = g_signal_new (
      "progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
}

static void
imgxfer_copy_init (ImgxferCopy *self)
{
  self->job.sparse = TRUE;
  self->job.done = &self->done;
}

/**
 * imgxfer_copy_new:
 * @source: an open source
 * @destination: a destination open for writing, at least as large as
 *   @source
 *
 * Creates a copy of @source to @destination, to be started with
 * imgxfer_copy_run() or imgxfer_copy_run_async(). The copy uses @source
 * and @destination in its first worker and clones of them in the others;
 * do not use them while the copy runs.
 *
 * Returns: (transfer full): a new copy
 *
 * Since: 0.1
 */
ImgxferCopy *
imgxfer_copy_new (ImgxferBackend *source, ImgxferBackend *destination)
{
  g_return_val_if_fail (IMGXFER_IS_SOURCE (source), NULL);
  g_return_val_if_fail (IMGXFER_IS_DESTINATION (destination), NULL);

  return g_object_new (IMGXFER_TYPE_COPY,
                       "source", source,
                       "destination", destination,
                       NULL);
}

/**
 * imgxfer_copy_set_connections:
 * @self: a copy
 * @connections: how many workers, each with its own connections; 0 for
 *   the default (4)
 *
 * Never more workers are used than either backend allows, nor more than
 * there are units of work (128 MiB each). When a server takes fewer
 * clients than it lets us open, the copy goes on with the connections it
 * got, and says so with g_message().
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_connections (ImgxferCopy *self, guint connections)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.connections = connections;
}

/**
 * imgxfer_copy_set_request_size:
 * @self: a copy
 * @request_size: the largest read or write, 0 for the default (1 MiB, or
 *   the preferred block size of either backend when larger)
 *
 * Requests are also bounded by both backends' block sizes: a smaller
 * size is raised to the largest of their minimum block sizes and 4 KiB,
 * a larger one lowered to the smaller of their maximums. Each worker
 * holds one buffer of this size.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_request_size (ImgxferCopy *self, gsize request_size)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.request_size = request_size;
}

/**
 * imgxfer_copy_set_target_is_zero:
 * @self: a copy
 * @is_zero: whether the destination already reads as zeroes
 *
 * When set, zero ranges are not written at all. Set it only when it is
 * true (a new sparse file, a new volume known to be zeroed): otherwise the
 * old contents show through. A destination that declares
 * %IMGXFER_BACKEND_IS_ZERO is treated the same way.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_target_is_zero (ImgxferCopy *self, gboolean is_zero)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.target_is_zero = is_zero;
}

/**
 * imgxfer_copy_set_shallow:
 * @self: a copy
 * @shallow: whether holes are left untouched
 *
 * A shallow copy copies the top layer of a backing chain: the source's
 * holes (%IMGXFER_EXTENT_HOLE) are not written, so that the destination's
 * backing file shows through them. A full copy writes them as zeroes.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_shallow (ImgxferCopy *self, gboolean shallow)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.shallow = shallow;
}

/**
 * imgxfer_copy_set_dirty_only:
 * @self: a copy
 * @dirty_only: whether only dirty ranges are copied
 *
 * An incremental copy: the source's extents are asked in the dirty
 * context (the source must have a bitmap) and only the ranges marked
 * %IMGXFER_EXTENT_DIRTY are copied; dirty zero ranges are zeroed.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_dirty_only (ImgxferCopy *self, gboolean dirty_only)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.dirty_only = dirty_only;
}

/**
 * imgxfer_copy_set_sparse:
 * @self: a copy
 * @sparse: whether the destination may be left sparse (default %TRUE)
 *
 * A sparse copy finds blocks of zeroes (4 KiB) in the data it reads and
 * zeroes them instead of writing them, and lets zeroing deallocate
 * (%IMGXFER_ZERO_MAY_TRIM). A copy that is not sparse writes all data and
 * keeps zeroed ranges allocated.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_sparse (ImgxferCopy *self, gboolean sparse)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.sparse = sparse;
}

/**
 * imgxfer_copy_set_progress_func:
 * @self: a copy
 * @func: (nullable) (scope notified): called with the length of each
 *   completed request
 * @user_data: (closure func): data for @func
 * @notify: (nullable) (destroy user_data): frees @user_data
 *
 * @func is called from the worker threads, for every request as it
 * completes: read and written, zeroed, or skipped. On success the lengths
 * add up to imgxfer_copy_get_total(). For progress on the caller's thread
 * during imgxfer_copy_run_async() connect to #ImgxferCopy::progress.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_progress_func (ImgxferCopy *self,
                                ImgxferCopyProgressFunc func,
                                gpointer user_data,
                                GDestroyNotify notify)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);

  if (self->progress_notify)
    self->progress_notify (self->job.progress_data);
  self->job.progress_func = func;
  self->job.progress_data = user_data;
  self->progress_notify = notify;
}

static void
feed_checksum (guint64 offset,
               guint64 length,
               const void *data,
               ImgxferExtentFlags flags,
               gpointer user_data)
{
  ImgxferChecksum *checksum = user_data;

  /* Without data the range reads as zeroes: a zero range, or a hole of
   * the layer being copied. */
  if (data)
    imgxfer_checksum_update (checksum, offset, data, length);
  else
    imgxfer_checksum_update_zero (checksum, offset, length);
}

/**
 * imgxfer_copy_set_checksum:
 * @self: a copy
 * @checksum: (nullable): a new checksum for the source's size, or %NULL
 *
 * Feeds every byte of the source to @checksum as the copy reads it (zero
 * ranges and holes as zeroes, without reading them), so that after a
 * successful run imgxfer_checksum_finish() gives the source's checksum
 * without a second pass. Not possible with a dirty-only copy, which does
 * not see all of the source. The copy keeps a reference to @checksum.
 *
 * Since: 0.1
 */
void
imgxfer_copy_set_checksum (ImgxferCopy *self, ImgxferChecksum *checksum)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);

  g_clear_pointer (&self->checksum, imgxfer_checksum_unref);
  self->job.observer_func = NULL;
  self->job.observer_data = NULL;
  if (checksum == NULL)
    return;

  self->checksum = imgxfer_checksum_ref (checksum);
  self->job.observer_func = feed_checksum;
  self->job.observer_data = self->checksum;
}

/* Replaces a checksum set with imgxfer_copy_set_checksum(). */
void
_imgxfer_copy_set_observer (ImgxferCopy *self,
                            ImgxferCopyObserverFunc func,
                            gpointer user_data)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);

  g_clear_pointer (&self->checksum, imgxfer_checksum_unref);
  self->job.observer_func = func;
  self->job.observer_data = user_data;
}

void
_imgxfer_copy_set_unit_size (ImgxferCopy *self, guint64 unit_size)
{
  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);
  self->job.unit_size = unit_size;
}

/**
 * imgxfer_copy_get_total:
 * @self: a copy
 *
 * Gets how many bytes a run goes through, to show progress against. May
 * be called from any thread.
 *
 * Returns: the number of bytes a run goes through: the source's size
 *
 * Since: 0.1
 */
guint64
imgxfer_copy_get_total (ImgxferCopy *self)
{
  g_return_val_if_fail (IMGXFER_IS_COPY (self), 0);
  return imgxfer_backend_get_size (self->job.source);
}

/**
 * imgxfer_copy_get_done:
 * @self: a copy
 *
 * Gets how many bytes the workers have completed (read and written,
 * zeroed, or skipped). May be called from any thread.
 *
 * Returns: the bytes completed by the current or last run
 *
 * Since: 0.1
 */
guint64
imgxfer_copy_get_done (ImgxferCopy *self)
{
  g_return_val_if_fail (IMGXFER_IS_COPY (self), 0);
  return __atomic_load_n (&self->done, __ATOMIC_RELAXED);
}

/* What cannot be checked when each setting is made. */
static gboolean
check_settings (ImgxferCopy *self, GError **error)
{
  const char *url = imgxfer_backend_get_url (self->job.source);
  guint64 size = imgxfer_copy_get_total (self);

  if (self->checksum == NULL)
    return TRUE;

  if (self->job.dirty_only)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: a checksum needs all of the source, not only its "
                   "dirty ranges",
                   url);
      return FALSE;
    }
  if (imgxfer_checksum_get_size (self->checksum) != size)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: the checksum is for %" G_GUINT64_FORMAT
                   " bytes but the source has %" G_GUINT64_FORMAT,
                   url, imgxfer_checksum_get_size (self->checksum), size);
      return FALSE;
    }
  return TRUE;
}

static void
emit_progress (ImgxferCopy *self)
{
  guint64 done = imgxfer_copy_get_done (self);

  self->last_emitted = done;
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, done,
                 imgxfer_copy_get_total (self));
}

static gboolean
on_progress_timeout (gpointer data)
{
  ImgxferCopy *self = data;

  if (imgxfer_copy_get_done (self) != self->last_emitted)
    emit_progress (self);
  return G_SOURCE_CONTINUE;
}

/* Fixes the settings for the run and starts reporting progress on the
 * thread-default context of the calling thread. */
static void
run_begin (ImgxferCopy *self, GMainContext *context)
{
  self->running = TRUE;
  __atomic_store_n (&self->done, 0, __ATOMIC_RELAXED);
  self->last_emitted = 0;

  if (context)
    {
      self->progress_source = g_timeout_source_new (PROGRESS_INTERVAL_MS);
      g_source_set_callback (self->progress_source, on_progress_timeout, self,
                             NULL);
      g_source_set_static_name (self->progress_source, "imgxfer-copy-progress");
      g_source_attach (self->progress_source, context);
    }
}

static void
run_end (ImgxferCopy *self)
{
  if (self->progress_source)
    {
      g_source_destroy (self->progress_source);
      g_clear_pointer (&self->progress_source, g_source_unref);
      emit_progress (self);
    }
  self->running = FALSE;
}

static void
run_in_thread (GTask *task,
               gpointer source_object,
               gpointer task_data,
               GCancellable *cancellable)
{
  ImgxferCopy *self = task_data;
  GError *error = NULL;

  if (_imgxfer_copy_job_run (&self->job, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Back on the caller's context: the last progress, then the result. */
static void
on_run_done (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  ImgxferCopy *self = g_task_get_source_object (task);
  GError *error = NULL;

  run_end (self);

  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * imgxfer_copy_run_async:
 * @self: a copy that is not running
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the copy is finished
 * @user_data: data for @callback
 *
 * Starts the copy in a thread of GIO's pool, which runs the first worker
 * and starts the others, as imgxfer_copy_run() does in the calling
 * thread. @callback and the #ImgxferCopy::progress signal come on the
 * thread-default main context of the calling thread.
 *
 * Since: 0.1
 */
void
imgxfer_copy_run_async (ImgxferCopy *self,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr (GTask) inner = NULL;
  GError *error = NULL;
  GTask *task;

  g_return_if_fail (IMGXFER_IS_COPY (self));
  g_return_if_fail (!self->running);

  if (!check_settings (self, &error))
    {
      g_task_report_error (self, callback, user_data, imgxfer_copy_run_async,
                           error);
      return;
    }

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, imgxfer_copy_run_async);
  /* The first error is the one reported, even when the caller cancels
   * after it. */
  g_task_set_check_cancellable (task, FALSE);

  run_begin (self, context);

  /* The inner task runs the workers; its callback, on this context, ends
   * the run before the caller hears of it. It holds no reference to the
   * copy (the outer task does): the worker thread drops the inner task
   * last, and must not be where the copy and its backends (qemu-nbd
   * children) are finalized, racing with the caller's exit. */
  inner = g_task_new (NULL, cancellable, on_run_done, task);
  g_task_set_task_data (inner, self, NULL);
  g_task_set_check_cancellable (inner, FALSE);
  g_task_run_in_thread (inner, run_in_thread);
}

/**
 * imgxfer_copy_run_finish:
 * @self: a copy
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Ends a run started with imgxfer_copy_run_async(), with the errors of
 * imgxfer_copy_run().
 *
 * Returns: %TRUE when all of the source was copied and every destination
 *   connection flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_copy_run_finish (ImgxferCopy *self,
                         GAsyncResult *result,
                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * imgxfer_copy_run:
 * @self: a copy that is not running
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies the source to the destination in the calling thread and in
 * worker threads, and returns when they are all finished. No main
 * context is iterated and #ImgxferCopy::progress is not emitted (there is
 * no main loop to deliver it): progress comes through
 * imgxfer_copy_set_progress_func(), from the workers. A caller that
 * wants its main loop to run meanwhile uses imgxfer_copy_run_async().
 *
 * The first error stops the copy and is the one returned: a failed read,
 * write, zero or flush, a short read, or %G_IO_ERROR_CANCELLED. Before
 * anything is copied, a destination not open for writing fails with
 * %IMGXFER_ERROR_NOT_SUPPORTED, a destination smaller than the source, or
 * a checksum (imgxfer_copy_set_checksum()) that does not fit the copy,
 * with %IMGXFER_ERROR_INVALID_ARGUMENT.
 *
 * Returns: %TRUE when all of the source was copied and every destination
 *   connection flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_copy_run (ImgxferCopy *self,
                  GCancellable *cancellable,
                  GError **error)
{
  gboolean ok;

  g_return_val_if_fail (IMGXFER_IS_COPY (self), FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  if (!check_settings (self, error))
    return FALSE;

  run_begin (self, NULL);
  ok = _imgxfer_copy_job_run (&self->job, cancellable, error);
  run_end (self);
  return ok;
}
