/* imgxfer-checksum-compute.c: the blkhash checksum of a source
 *
 * The copy engine's workers read the source (imgxfer-copy-job.c, with no
 * destination), each through its own clone, and give what they read to
 * an #ImgxferChecksum, which hashes it in the reading thread; zero
 * extents are never read, and whole zero blocks cost no hashing. Clone
 * fallback, cancellation and the first error are the engine's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-copy-private.h"
#include "imgxfer-range-private.h"

/* Reads are hashed in pieces of this size, so that the data is still in
 * the CPU cache when the hash reads it. */
#define READ_CHUNK (256 * 1024)

/* Work units hold whole blocks, so that the pieces of a block come in
 * order from one worker and are hashed as they come, never copied. */
#define UNIT_SIZE (64 * 1024 * 1024)

static void
feed_checksum (guint64 offset, guint64 length, const void *data,
               ImgxferExtentFlags flags, gpointer user_data)
{
  ImgxferChecksum *checksum = user_data;

  if (data)
    imgxfer_checksum_update (checksum, offset, data, length);
  else
    imgxfer_checksum_update_zero (checksum, offset, length);
}

/* A driver that has the checksum without reading the image (a server
 * computes it) answers first; G_IO_ERROR_NOT_SUPPORTED leaves it to the
 * reads, with *@result NULL. */
static gboolean
checksum_from_driver (ImgxferBackend *source, ImgxferChecksum *checksum,
                      char **result, GCancellable *cancellable, GError **error)
{
  ImgxferBackendClass *klass = IMGXFER_BACKEND_GET_CLASS (source);
  g_autoptr (GError) local_error = NULL;

  *result = NULL;
  if (klass->checksum == NULL)
    return TRUE;
  if (!_imgxfer_check_open (source, "checksum", error))
    return FALSE;
  *result = klass->checksum (source, imgxfer_checksum_get_algorithm (checksum),
                             imgxfer_checksum_get_block_size (checksum),
                             cancellable, &local_error);
  if (*result != NULL
      || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * imgxfer_checksum_compute:
 * @source: an open source
 * @algorithm: (nullable): digest algorithm (one of
 *   imgxfer_checksum_list_algorithms()), blake2b when %NULL
 * @block_size: 0 for the default (4 MiB); 1–16 MiB, a multiple of 4096
 * @threads: reading and hashing threads, 0 for one per core
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Computes the blkhash checksum of the guest-visible data of @source, as
 * ovirt-imageio does: the digest of the concatenated digests of its
 * blocks. A driver that has the checksum without reading the image (its
 * class's checksum method) gives it; otherwise the copy engine's workers
 * read it, zero extents excepted: each thread reads through its own clone
 * of @source, never more than the backend allows (fewer when a server
 * takes fewer clients, with a note, as a copy does), and hashes what it
 * read. @source itself is used too, so it must not be used elsewhere
 * meanwhile. Blocks until the checksum is computed.
 *
 * Returns: (transfer full): the checksum as lowercase hex, or %NULL with
 *   @error set: the errors of imgxfer_checksum_new(), of reading @source,
 *   or %G_IO_ERROR_CANCELLED
 *
 * Since: 0.1
 */
char *
imgxfer_checksum_compute (ImgxferBackend *source,
                          const char *algorithm,
                          gsize block_size,
                          guint threads,
                          GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (ImgxferChecksum) checksum = NULL;
  ImgxferCopyJob job = { 0 };
  guint64 done = 0;
  char *result;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (source), NULL);

  checksum = imgxfer_checksum_new (algorithm, block_size,
                                   imgxfer_backend_get_size (source), error);
  if (checksum == NULL
      || !checksum_from_driver (source, checksum, &result, cancellable, error))
    return NULL;
  if (result != NULL)
    return result;

  block_size = imgxfer_checksum_get_block_size (checksum);
  job.source = source;
  job.connections = threads ? threads : g_get_num_processors ();
  job.request_size = READ_CHUNK;
  job.unit_size = block_size * MAX (1, UNIT_SIZE / block_size);
  job.observer_func = feed_checksum;
  job.observer_data = checksum;
  job.done = &done;

  if (!_imgxfer_copy_job_run (&job, cancellable, error))
    return NULL;
  return imgxfer_checksum_finish (checksum, error);
}
