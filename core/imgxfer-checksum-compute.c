/* imgxfer-checksum-compute.c: the blkhash checksum of a source
 *
 * Several threads hash the blocks of a source, each reading through its
 * own clone (or taking turns on a shared connection when the backend
 * allows fewer); one scanner hands out the ranges that hold data and
 * fills the digests of zero blocks itself, from the extents, without
 * reading them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-blkhash-private.h"

/* How much of the image a worker claims at once: large enough that the
 * claiming costs nothing, small enough that the workers finish together. */
#define UNIT_SIZE (64 * 1024 * 1024)

/* How much the extents are asked for at once. A sparse 1 TiB image is
 * then described in a few calls, and all its zero blocks are filled
 * without any worker touching them. */
#define SCAN_LENGTH (G_GUINT64_CONSTANT (16) << 30)

/* Reads are hashed in pieces of this size, so that the data is still in
 * the CPU cache when the hash reads it. */
#define READ_CHUNK (256 * 1024)

typedef struct
{
  ImgxferBackend *backend;
  /* A connection is used by one thread at a time; when the source allows
   * fewer connections than there are threads, the workers take turns
   * reading and hash in parallel. */
  GMutex lock;
} Connection;

typedef struct
{
  ImgxferBlkhash *blkhash;
  guint64 size;
  gsize block_size;
  guint64 unit_blocks;
  Connection *connections;
  guint n_connections;
  GCancellable *cancellable;
  gint failed; /* atomic */

  GMutex lock; /* protects what follows */
  GError *error;
  /* The scanner: what is not handed out yet starts at @pos; @extents
   * describe the image from the extent at @ext_index to @ext_end. */
  guint64 pos;
  GArray *extents;
  guint ext_index;
  guint64 ext_end;
} Compute;

typedef struct
{
  guint64 first_block;
  guint64 n_blocks;
  GArray *extents; /* exactly the item's range */
} WorkItem;

static void
compute_fail (Compute *c, GError *error)
{
  g_mutex_lock (&c->lock);
  if (c->error == NULL)
    c->error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&c->lock);
  g_atomic_int_set (&c->failed, 1);
}

static gboolean
compute_failed (Compute *c)
{
  return g_atomic_int_get (&c->failed)
         || g_cancellable_is_cancelled (c->cancellable);
}

/* With c->lock held: makes the scanner's extents reach @upto. */
static gboolean
scan_until (Compute *c, guint64 upto, GError **error)
{
  Connection *conn = &c->connections[0];

  while (c->ext_end < upto)
    {
      guint64 length = MIN (c->size - c->ext_end, SCAN_LENGTH);
      g_autoptr (GArray) found = NULL;

      g_mutex_lock (&conn->lock);
      found = imgxfer_source_extents (IMGXFER_SOURCE (conn->backend),
                                      IMGXFER_EXTENT_CONTEXT_ZERO,
                                      c->ext_end, length, c->cancellable,
                                      error);
      g_mutex_unlock (&conn->lock);
      if (found == NULL)
        return FALSE;

      for (guint i = 0; i < found->len; i++)
        {
          const ImgxferExtent *e = &g_array_index (found, ImgxferExtent, i);

          /* Only ZERO matters here: a hole with a backing file shows the
           * backing file's data. */
          imgxfer_extents_append (c->extents, e->start, e->length,
                                  e->flags & IMGXFER_EXTENT_ZERO);
          c->ext_end = e->start + e->length;
        }
    }

  /* Forget what lies behind, now and then. */
  if (c->ext_index > 1024)
    {
      g_array_remove_range (c->extents, 0, c->ext_index);
      c->ext_index = 0;
    }
  return TRUE;
}

/* With c->lock held: the extent holding c->pos. */
static const ImgxferExtent *
scan_current (Compute *c)
{
  for (;; c->ext_index++)
    {
      const ImgxferExtent *e;

      g_assert (c->ext_index < c->extents->len);
      e = &g_array_index (c->extents, ImgxferExtent, c->ext_index);
      if (e->start + e->length > c->pos)
        return e;
    }
}

/* With c->lock held: copies the extents of [start, end) into @out. */
static void
scan_copy (Compute *c, guint64 start, guint64 end, GArray *out)
{
  for (guint i = c->ext_index; i < c->extents->len; i++)
    {
      const ImgxferExtent *e = &g_array_index (c->extents, ImgxferExtent, i);
      guint64 s = MAX (e->start, start);
      guint64 t = MIN (e->start + e->length, end);

      if (s >= end)
        break;
      if (s < t)
        imgxfer_extents_append (out, s, t - s, e->flags);
    }
}

/* Hands out the next range of blocks that holds data. Runs of zero
 * blocks on the way are filled here, never read. */
static gboolean
claim (Compute *c, WorkItem *item)
{
  GError *error = NULL;
  gboolean found = FALSE;

  g_mutex_lock (&c->lock);
  while (!found && c->pos < c->size && !compute_failed (c))
    {
      guint64 block = c->pos / c->block_size;
      guint64 end;
      const ImgxferExtent *e;

      if (!scan_until (c, MIN (c->pos + c->block_size, c->size), &error))
        break;

      e = scan_current (c);
      if (e->flags & IMGXFER_EXTENT_ZERO)
        {
          guint64 zero_end = e->start + e->length;
          guint64 n = zero_end >= c->size
                          ? _imgxfer_blkhash_get_n_blocks (c->blkhash) - block
                          : (zero_end - c->pos) / c->block_size;

          if (n > 0)
            {
              _imgxfer_blkhash_set_zero (c->blkhash, block, n);
              c->pos = MIN (c->size, c->pos + n * c->block_size);
              continue;
            }
        }

      item->first_block = block;
      item->n_blocks = MIN (c->unit_blocks,
                            _imgxfer_blkhash_get_n_blocks (c->blkhash) - block);
      end = MIN (c->size, (block + item->n_blocks) * c->block_size);
      if (!scan_until (c, end, &error))
        break;
      g_array_set_size (item->extents, 0);
      scan_copy (c, c->pos, end, item->extents);
      c->pos = end;
      found = TRUE;
    }
  g_mutex_unlock (&c->lock);

  if (error)
    compute_fail (c, error);
  return found;
}

/* Reads @length bytes at @offset, at most @maximum at a time, into
 * @buffer; streams them into @stream when it is not %NULL, each chunk
 * while it is still in the CPU cache, else keeps them in @buffer. */
static gboolean
read_range (Compute *c,
            Connection *conn,
            ImgxferBlockStream *stream,
            guint8 *buffer,
            guint64 offset,
            guint64 length,
            GError **error)
{
  guint32 maximum;

  imgxfer_backend_get_block_sizes (conn->backend, NULL, NULL, &maximum);
  if (stream)
    maximum = MIN (maximum, READ_CHUNK);
  while (length > 0)
    {
      gsize n = MIN (length, maximum);

      if (!imgxfer_source_pread (IMGXFER_SOURCE (conn->backend), buffer, n,
                                 offset, c->cancellable, error))
        return FALSE;
      if (stream)
        _imgxfer_block_stream_update (stream, buffer, n);
      else
        buffer += n;
      offset += n;
      length -= n;
    }
  return TRUE;
}

/* Hashes one block of @item: zero extents are fed as zeroes, data is
 * read. On a connection of its own a worker hashes as it reads; on a
 * shared one it reads the whole block into @buffer and hashes it after
 * letting the others read. */
static gboolean
hash_block (Compute *c,
            Connection *conn,
            gboolean shared,
            ImgxferBlockStream *stream,
            guint8 *buffer,
            const WorkItem *item,
            guint *cursor,
            guint64 block,
            GError **error)
{
  guint64 start = block * c->block_size;
  guint64 end = start + _imgxfer_blkhash_block_length (c->blkhash, block);
  gboolean ok = TRUE;

  g_mutex_lock (&conn->lock);
  for (guint i = *cursor; i < item->extents->len && ok; i++)
    {
      const ImgxferExtent *e = &g_array_index (item->extents, ImgxferExtent, i);
      guint64 s = MAX (e->start, start);
      guint64 t = MIN (e->start + e->length, end);

      if (s >= end)
        break;
      if (e->start + e->length <= end)
        *cursor = i + 1;
      if (s >= t)
        continue;
      if (!(e->flags & IMGXFER_EXTENT_ZERO))
        ok = read_range (c, conn, shared ? NULL : stream,
                         shared ? buffer + (s - start) : buffer, s, t - s,
                         error);
      else if (shared)
        memset (buffer + (s - start), 0, t - s);
      else
        _imgxfer_block_stream_update (stream, NULL, t - s);
    }
  g_mutex_unlock (&conn->lock);

  if (!ok)
    return FALSE;
  if (shared)
    _imgxfer_block_stream_update (stream, buffer, end - start);
  _imgxfer_blkhash_set_stream (c->blkhash, block, stream);
  return TRUE;
}

typedef struct
{
  Compute *compute;
  guint index;
  guint n_threads;
} Worker;

static gpointer
worker_run (gpointer data)
{
  Worker *w = data;
  Compute *c = w->compute;
  Connection *conn = &c->connections[w->index % c->n_connections];
  gboolean shared = c->n_connections < w->n_threads;
  const ImgxferBlkhashAlgorithm *algorithm
      = _imgxfer_blkhash_get_algorithm (c->blkhash);
  g_autofree guint8 *buffer = g_malloc (shared ? c->block_size : READ_CHUNK);
  WorkItem item = { 0, 0, imgxfer_extents_new () };
  ImgxferBlockStream stream;

  _imgxfer_block_stream_init (&stream, algorithm);
  while (claim (c, &item))
    {
      guint cursor = 0;

      for (guint64 b = item.first_block;
           b < item.first_block + item.n_blocks; b++)
        {
          GError *error = NULL;

          if (compute_failed (c))
            break;
          if (!hash_block (c, conn, shared, &stream, buffer, &item, &cursor, b,
                           &error))
            {
              compute_fail (c, error);
              break;
            }
        }
    }
  _imgxfer_block_stream_clear (&stream);
  g_array_unref (item.extents);
  return NULL;
}

static void
compute_clear (Compute *c)
{
  for (guint i = 0; i < c->n_connections; i++)
    {
      g_clear_object (&c->connections[i].backend);
      g_mutex_clear (&c->connections[i].lock);
    }
  g_free (c->connections);
  g_clear_pointer (&c->extents, g_array_unref);
  g_clear_error (&c->error);
  g_mutex_clear (&c->lock);
}

/* The first connection is the caller's; the others are clones, as many as
 * can be had: a server may serve fewer clients than it lets us open, and
 * the threads share the connections there are (see the copy engine). */
static gboolean
open_connections (Compute *c,
                  ImgxferBackend *source,
                  guint n,
                  GError **error)
{
  g_autoptr (GError) clone_error = NULL;

  c->connections = g_new0 (Connection, n);
  for (guint i = 0; i < n; i++)
    {
      c->connections[i].backend
          = i == 0 ? g_object_ref (source)
                   : imgxfer_backend_clone (source, c->cancellable,
                                            &clone_error);
      if (c->connections[i].backend == NULL)
        break;
      g_mutex_init (&c->connections[i].lock);
      c->n_connections = i + 1;
    }

  if (c->n_connections < n)
    {
      if (g_cancellable_set_error_if_cancelled (c->cancellable, error))
        return FALSE;
      g_message ("Reading with %u connections instead of %u: %s",
                 c->n_connections, n, clone_error->message);
    }
  return TRUE;
}

static guint
thread_count (guint threads, guint64 n_blocks, guint64 unit_blocks)
{
  guint64 units = n_blocks / unit_blocks + 1;

  if (threads == 0)
    threads = g_get_num_processors ();
  return (guint)MAX (1, MIN (threads, units));
}

/* A driver that has the checksum without reading the image (a server
 * computes it) answers first; G_IO_ERROR_NOT_SUPPORTED leaves it to the
 * reads, with *@result NULL. */
static gboolean
checksum_from_driver (ImgxferBackend *source, ImgxferBlkhash *blkhash,
                      char **result, GCancellable *cancellable, GError **error)
{
  ImgxferBackendClass *klass = IMGXFER_BACKEND_GET_CLASS (source);
  g_autoptr (GError) local_error = NULL;

  *result = NULL;
  if (klass->checksum == NULL)
    return TRUE;
  *result = klass->checksum (
      source,
      _imgxfer_blkhash_algorithm_get_name (
          _imgxfer_blkhash_get_algorithm (blkhash)),
      _imgxfer_blkhash_get_block_size (blkhash), cancellable, &local_error);
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
 * @threads: hashing threads, 0 for one per core
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Computes the blkhash checksum of the guest-visible data of @source, as
 * ovirt-imageio does: the digest of the concatenated digests of its
 * blocks. A driver that has the checksum without reading the image (its
 * class's checksum method) gives it; otherwise zero extents are never
 * read, and each thread reads through its own clone of @source, never
 * more than the backend allows; @source itself is used too, so it must
 * not be used elsewhere meanwhile.
 *
 * Returns: (transfer full): the checksum as lowercase hex, or %NULL on
 *   error
 */
char *
imgxfer_checksum_compute (ImgxferBackend *source,
                          const char *algorithm,
                          gsize block_size,
                          guint threads,
                          GCancellable *cancellable,
                          GError **error)
{
  Compute c = { 0 };
  g_autoptr (ImgxferBlkhash) blkhash = NULL;
  g_autoptr (GPtrArray) workers = NULL;
  g_autofree Worker *params = NULL;
  guint n_threads;
  char *result = NULL;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (source), NULL);

  blkhash = _imgxfer_blkhash_new (algorithm, block_size,
                                  imgxfer_backend_get_size (source), error);
  if (blkhash == NULL
      || !checksum_from_driver (source, blkhash, &result, cancellable, error))
    return NULL;
  if (result != NULL)
    return result;

  g_mutex_init (&c.lock);
  c.blkhash = blkhash;
  c.size = imgxfer_backend_get_size (source);
  c.block_size = _imgxfer_blkhash_get_block_size (blkhash);
  c.unit_blocks = MAX (1, UNIT_SIZE / c.block_size);
  c.cancellable = cancellable;
  c.extents = imgxfer_extents_new ();

  n_threads = thread_count (threads, _imgxfer_blkhash_get_n_blocks (blkhash),
                            c.unit_blocks);
  if (!open_connections (
          &c, source,
          MIN (n_threads, imgxfer_backend_get_max_connections (source)),
          error))
    goto out;

  params = g_new0 (Worker, n_threads);
  workers = g_ptr_array_new ();
  for (guint i = 0; i < n_threads; i++)
    {
      params[i].compute = &c;
      params[i].index = i;
      params[i].n_threads = n_threads;
      if (i > 0)
        g_ptr_array_add (workers, g_thread_new ("checksum", worker_run,
                                                &params[i]));
    }
  worker_run (&params[0]);
  for (guint i = 0; i < workers->len; i++)
    g_thread_join (g_ptr_array_index (workers, i));

  if (c.error == NULL
      && g_cancellable_set_error_if_cancelled (cancellable, error))
    goto out;
  if (c.error)
    {
      g_propagate_error (error, g_steal_pointer (&c.error));
      goto out;
    }
  result = _imgxfer_blkhash_finish (blkhash);

out:
  compute_clear (&c);
  return result;
}

