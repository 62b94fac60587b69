/* imgxfer-transfer.c: uploading to and downloading from imageio servers
 *
 * The calls of ovirt-imageio's client, built on imgxfer_open(),
 * imgxfer_open_destination() and the copy engine: an upload copies a
 * local image (or an archive member) into a transfer URL, a download
 * copies a transfer URL into a new local image. Both run in a worker
 * thread; the progress of each completed request is handed to the
 * caller's main context, and all of it is delivered before the result.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-copy.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-open-destination.h>
#include <imgxfer/imgxfer-transfer.h>

#include "imgxfer-transfer-private.h"

/* Progress reports from the copy's workers, delivered on the caller's
 * context in the order they came. */
typedef struct
{
  GMutex lock;
  GArray *pending; /* of guint64 */
  gboolean scheduled;
  GMainContext *context;
  ImgxferTransferProgressFunc func;
  gpointer user_data;
  guint64 total;
} Relay;

typedef struct
{
  gboolean upload;
  char *from;
  char *to;
  ImgxferTransferOptions *options;
  Relay *relay; /* shared with the idle sources: see relay_unref() */
} Transfer;

static Relay *
relay_new (ImgxferTransferOptions *options)
{
  Relay *relay = g_atomic_rc_box_new0 (Relay);

  g_mutex_init (&relay->lock);
  relay->pending = g_array_new (FALSE, FALSE, sizeof (guint64));
  relay->context = g_main_context_ref_thread_default ();
  relay->func
      = _imgxfer_transfer_options_get_progress (options, &relay->user_data);
  return relay;
}

static void
relay_clear (gpointer data)
{
  Relay *relay = data;

  g_array_unref (relay->pending);
  g_main_context_unref (relay->context);
  g_mutex_clear (&relay->lock);
}

static void
relay_unref (Relay *relay)
{
  g_atomic_rc_box_release_full (relay, relay_clear);
}

/* On the caller's context. */
static void
relay_deliver (Relay *relay)
{
  g_autoptr (GArray) lengths = NULL;

  g_mutex_lock (&relay->lock);
  lengths = g_steal_pointer (&relay->pending);
  relay->pending = g_array_new (FALSE, FALSE, sizeof (guint64));
  relay->scheduled = FALSE;
  g_mutex_unlock (&relay->lock);

  for (guint i = 0; i < lengths->len; i++)
    relay->func (g_array_index (lengths, guint64, i), relay->total,
                 relay->user_data);
}

static gboolean
on_relay_idle (gpointer data)
{
  relay_deliver (data);
  return G_SOURCE_REMOVE;
}

/* From the workers, once per completed request. */
static void
relay_report (guint64 length, gpointer data)
{
  Relay *relay = data;
  g_autoptr (GSource) idle = NULL;

  g_mutex_lock (&relay->lock);
  g_array_append_val (relay->pending, length);
  if (!relay->scheduled)
    {
      relay->scheduled = TRUE;
      idle = g_idle_source_new ();
      g_source_set_callback (idle, on_relay_idle,
                             g_atomic_rc_box_acquire (relay),
                             (GDestroyNotify)relay_unref);
      g_source_set_static_name (idle, "imgxfer-transfer-progress");
      g_source_attach (idle, relay->context);
    }
  g_mutex_unlock (&relay->lock);
}

static void
transfer_free (gpointer data)
{
  Transfer *transfer = data;

  g_free (transfer->from);
  g_free (transfer->to);
  g_clear_object (&transfer->options);
  relay_unref (transfer->relay);
  g_free (transfer);
}

/* How the imageio side is reached. */
static ImgxferOpenOptions *
remote_options (ImgxferTransferOptions *options)
{
  ImgxferOpenOptions *open_options = imgxfer_open_options_new ();

  imgxfer_open_options_set_ca_file (
      open_options, imgxfer_transfer_options_get_ca_file (options));
  imgxfer_open_options_set_insecure (
      open_options, !imgxfer_transfer_options_get_secure (options));
  imgxfer_open_options_set_proxy_url (
      open_options, imgxfer_transfer_options_get_proxy_url (options));
  imgxfer_open_options_set_connections (
      open_options, imgxfer_transfer_options_get_connections (options));
  imgxfer_open_options_set_retries (
      open_options, imgxfer_transfer_options_get_retries (options));
  imgxfer_open_options_set_timeout (
      open_options, imgxfer_transfer_options_get_timeout (options));
  return open_options;
}

static gboolean
run_copy (Transfer *transfer, ImgxferBackend *source,
          ImgxferBackend *destination, gboolean shallow,
          GCancellable *cancellable, GError **error)
{
  ImgxferTransferOptions *options = transfer->options;
  g_autoptr (ImgxferCopy) copy = imgxfer_copy_new (source, destination);

  imgxfer_copy_set_connections (
      copy, imgxfer_transfer_options_get_connections (options));
  imgxfer_copy_set_shallow (copy, shallow);
  /* An upload sends the source's data as it is, zeroes included, as
   * imageio's client does: the ticket's disk is then allocated where the
   * source is (the seed compares allocation strictly). */
  if (transfer->upload)
    {
      imgxfer_copy_set_target_is_zero (
          copy, imgxfer_transfer_options_get_disk_is_zero (options));
      imgxfer_copy_set_sparse (copy, FALSE);
    }
  else
    imgxfer_copy_set_dirty_only (
        copy, imgxfer_transfer_options_get_incremental (options));

  transfer->relay->total = imgxfer_backend_get_size (source);
  if (transfer->relay->func)
    imgxfer_copy_set_progress_func (copy, relay_report, transfer->relay, NULL);
  /* The copy flushed every connection; closing says whether the rest
   * ended well (a helper stopped cleanly, nothing failed on close). */
  return imgxfer_copy_run (copy, cancellable, error)
         && imgxfer_backend_close (destination, IMGXFER_CLOSE_NONE,
                                   cancellable, error)
         && imgxfer_backend_close (source, IMGXFER_CLOSE_NONE, cancellable,
                                   error);
}

/* A local image, or an archive member, into the transfer URL. Without
 * the backing chain, the source's holes are left untouched, so that the
 * ticket's disk shows its own backing chain through them. */
static gboolean
upload (Transfer *transfer, GCancellable *cancellable, GError **error)
{
  ImgxferTransferOptions *options = transfer->options;
  gboolean backing_chain = imgxfer_transfer_options_get_backing_chain (options);
  g_autoptr (ImgxferOpenOptions) source_options = imgxfer_open_options_new ();
  g_autoptr (ImgxferOpenOptions) destination_options = remote_options (options);
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;

  imgxfer_open_options_set_member (
      source_options, imgxfer_transfer_options_get_member (options));
  imgxfer_open_options_set_shallow (source_options, !backing_chain);
  source = imgxfer_open (transfer->from, source_options, cancellable, error);
  if (source == NULL)
    return FALSE;

  destination = imgxfer_open_destination (
      transfer->to, destination_options, imgxfer_backend_get_size (source),
      source, NULL, NULL, IMGXFER_DESTINATION_EXISTING, cancellable, error);
  if (destination == NULL)
    return FALSE;

  return run_copy (transfer, source, destination, !backing_chain, cancellable,
                   error);
}

/* The transfer URL into a new local image. With a backing file only the
 * server's top layer is copied: its holes stay unallocated, showing the
 * backing file, and its zeroes are written to hide it. */
static gboolean
download (Transfer *transfer, GCancellable *cancellable, GError **error)
{
  ImgxferTransferOptions *options = transfer->options;
  const char *format = imgxfer_transfer_options_get_format (options);
  const char *backing_file
      = imgxfer_transfer_options_get_backing_file (options);
  g_autoptr (ImgxferOpenOptions) source_options = remote_options (options);
  g_autoptr (ImgxferOpenOptions) destination_options
      = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;

  if (format == NULL)
    format = "qcow2";
  if (imgxfer_transfer_options_get_incremental (options)
      && g_strcmp0 (format, "qcow2") != 0)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: an incremental download needs the qcow2 format, "
                   "not %s",
                   transfer->to, format);
      return FALSE;
    }

  source = imgxfer_open (transfer->from, source_options, cancellable, error);
  if (source == NULL)
    return FALSE;

  imgxfer_open_options_set_format (destination_options, format);
  destination = imgxfer_open_destination (
      transfer->to, destination_options, imgxfer_backend_get_size (source),
      source, backing_file,
      imgxfer_transfer_options_get_backing_format (options),
      IMGXFER_DESTINATION_NONE, cancellable, error);
  if (destination == NULL)
    return FALSE;

  return run_copy (transfer, source, destination, backing_file != NULL,
                   cancellable, error);
}

static void
run_in_thread (GTask *task, gpointer source_object, gpointer task_data,
               GCancellable *cancellable)
{
  Transfer *transfer = task_data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  GError *error = NULL;
  gboolean ok;

  /* A private thread-default context: whatever the drivers' libraries
   * attach to it while opening and copying (libsoup, GIO) stays in this
   * thread instead of landing on the application's default context. */
  g_main_context_push_thread_default (context);
  ok = transfer->upload ? upload (transfer, cancellable, &error)
                        : download (transfer, cancellable, &error);
  g_main_context_pop_thread_default (context);

  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* On the caller's context: the progress still pending, then the result. */
static void
on_thread_done (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  Transfer *transfer = g_task_get_task_data (task);
  GError *error = NULL;

  if (transfer->relay->func)
    relay_deliver (transfer->relay);

  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
start (gboolean upload_, const char *from, const char *to,
       ImgxferTransferOptions *options, GCancellable *cancellable,
       GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
  g_autoptr (ImgxferTransferOptions) default_options = NULL;
  Transfer *transfer = g_new0 (Transfer, 1);
  g_autoptr (GTask) inner = NULL;
  GTask *task;

  if (options == NULL)
    options = default_options = imgxfer_transfer_options_new ();
  transfer->upload = upload_;
  transfer->from = g_strdup (from);
  transfer->to = g_strdup (to);
  transfer->options = g_object_ref (options);
  transfer->relay = relay_new (options);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, transfer, transfer_free);
  /* The first error is the one reported, even after a cancellation. */
  g_task_set_check_cancellable (task, FALSE);

  inner = g_task_new (NULL, cancellable, on_thread_done, task);
  g_task_set_task_data (inner, transfer, NULL);
  g_task_set_check_cancellable (inner, FALSE);
  g_task_run_in_thread (inner, run_in_thread);
}

static void
on_sync_done (GObject *object, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

/* The asynchronous call on a context of its own, iterated here: the
 * progress callback runs in the calling thread. */
static gboolean
run_sync (gboolean upload_, const char *from, const char *to,
          ImgxferTransferOptions *options, GCancellable *cancellable,
          GError **error)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GAsyncResult) result = NULL;

  g_main_context_push_thread_default (context);
  start (upload_, from, to, options, cancellable, on_sync_done, &result, NULL);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * imgxfer_upload:
 * @filename: a local image (any format imgxfer reads; probed), or a
 *   tar/OVA archive with imgxfer_transfer_options_set_member()
 * @url: the transfer URL, https://HOST:PORT/images/TICKET
 * @options: (nullable): how; %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Uploads the guest data of @filename into the image behind @url, which
 * must be at least as large. Zero ranges are sent as zero requests (none
 * when the options say the disk is zero), with as many connections as
 * asked and the server allows; every connection is flushed at the end.
 * An expired or removed ticket fails with %IMGXFER_ERROR_EXPIRED.
 *
 * Returns: %TRUE when all of the image was uploaded and flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_upload (const char *filename, const char *url,
                ImgxferTransferOptions *options, GCancellable *cancellable,
                GError **error)
{
  g_return_val_if_fail (filename != NULL && url != NULL, FALSE);
  return run_sync (TRUE, filename, url, options, cancellable, error);
}

/**
 * imgxfer_upload_async:
 * @filename: a local image, or a tar/OVA archive
 * @url: the transfer URL
 * @options: (nullable): how; %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the upload is over
 * @user_data: data for @callback
 *
 * imgxfer_upload() in a worker thread. The progress callback and
 * @callback come on the thread-default main context of the caller.
 *
 * Since: 0.1
 */
void
imgxfer_upload_async (const char *filename, const char *url,
                      ImgxferTransferOptions *options,
                      GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_return_if_fail (filename != NULL && url != NULL);
  start (TRUE, filename, url, options, cancellable, callback, user_data,
         imgxfer_upload_async);
}

/**
 * imgxfer_upload_finish:
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Ends an upload started with imgxfer_upload_async(), with the errors of
 * imgxfer_upload().
 *
 * Returns: %TRUE when all of the image was uploaded and flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_upload_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * imgxfer_download:
 * @url: the transfer URL, https://HOST:PORT/images/TICKET
 * @filename: the local image to create (replaced if it exists)
 * @options: (nullable): how; %NULL for the defaults (a qcow2 file)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Downloads the image behind @url into a new image @filename, in the
 * format of the options (qcow2 by default), keeping holes. With a backing
 * file the new image is created on it and only the server's top layer is
 * copied; with incremental, only the dirty extents.
 *
 * Returns: %TRUE when all of the image was downloaded and flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_download (const char *url, const char *filename,
                  ImgxferTransferOptions *options, GCancellable *cancellable,
                  GError **error)
{
  g_return_val_if_fail (filename != NULL && url != NULL, FALSE);
  return run_sync (FALSE, url, filename, options, cancellable, error);
}

/**
 * imgxfer_download_async:
 * @url: the transfer URL
 * @filename: the local image to create
 * @options: (nullable): how; %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the download is over
 * @user_data: data for @callback
 *
 * imgxfer_download() in a worker thread. The progress callback and
 * @callback come on the thread-default main context of the caller.
 *
 * Since: 0.1
 */
void
imgxfer_download_async (const char *url, const char *filename,
                        ImgxferTransferOptions *options,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_return_if_fail (filename != NULL && url != NULL);
  start (FALSE, url, filename, options, cancellable, callback, user_data,
         imgxfer_download_async);
}

/**
 * imgxfer_download_finish:
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Ends a download started with imgxfer_download_async(), with the errors
 * of imgxfer_download().
 *
 * Returns: %TRUE when all of the image was downloaded and flushed
 *
 * Since: 0.1
 */
gboolean
imgxfer_download_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
