/* imgxfer-checksum.c: blkhash checksums of guest-visible data
 *
 * Two ways in: imgxfer_checksum_compute() reads a source with several
 * threads, and an #ImgxferChecksum takes the data of an image as a copy
 * passes it along. Both fill the table of block digests of
 * imgxfer-blkhash.c and combine it at the end.
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

/**
 * imgxfer_checksum_list_algorithms:
 *
 * Returns: (transfer none) (array zero-terminated=1): the names of the
 *   digest algorithms the checksum can use, sorted
 */
const char *const *
imgxfer_checksum_list_algorithms (void)
{
  return _imgxfer_blkhash_algorithm_names ();
}

/* Compute */

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

static gboolean
open_connections (Compute *c,
                  ImgxferBackend *source,
                  guint n,
                  GError **error)
{
  c->connections = g_new0 (Connection, n);
  for (guint i = 0; i < n; i++)
    {
      g_mutex_init (&c->connections[i].lock);
      c->connections[i].backend
          = i == 0 ? g_object_ref (source)
                   : imgxfer_backend_clone (source, c->cancellable, error);
      if (c->connections[i].backend == NULL)
        {
          g_mutex_clear (&c->connections[i].lock);
          return FALSE;
        }
      c->n_connections = i + 1;
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
 * blocks. Zero extents are never read. Each thread reads through its own
 * clone of @source, never more than the backend allows; @source itself
 * is used too, so it must not be used elsewhere meanwhile.
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

  blkhash = _imgxfer_blkhash_new (
      algorithm ? algorithm : IMGXFER_CHECKSUM_DEFAULT_ALGORITHM,
      block_size ? block_size : IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE,
      imgxfer_backend_get_size (source), error);
  if (blkhash == NULL)
    return NULL;

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

/* Incremental */

/* A block whose bytes come in several updates. Pieces that arrive ahead
 * of their turn wait, copied, in @pending. */
typedef struct
{
  GMutex lock;
  guint64 block;
  gsize length; /* of the whole block */
  ImgxferBlockStream stream;
  GSList *pending; /* of Piece, by offset */
} Partial;

typedef struct
{
  gsize offset; /* in the block */
  gsize length;
  guint8 *data; /* NULL for zeroes */
} Piece;

struct _ImgxferChecksum
{
  gatomicrefcount ref_count;
  ImgxferBlkhash *blkhash;
  GMutex lock; /* protects what follows */
  GHashTable *partials; /* block number -> Partial (rc box) */
  guint8 *done;         /* per block: its digest is set */
  GError *error;        /* the first misuse, reported by finish() */
  gboolean finished;
};

G_DEFINE_BOXED_TYPE (ImgxferChecksum, imgxfer_checksum, imgxfer_checksum_ref,
                     imgxfer_checksum_unref)

static void
piece_free (gpointer data)
{
  Piece *piece = data;

  g_free (piece->data);
  g_free (piece);
}

static void
partial_clear (gpointer data)
{
  Partial *partial = data;

  g_mutex_clear (&partial->lock);
  _imgxfer_block_stream_clear (&partial->stream);
  g_slist_free_full (partial->pending, piece_free);
}

static void
partial_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, partial_clear);
}

/**
 * imgxfer_checksum_new:
 * @algorithm: (nullable): digest algorithm, blake2b when %NULL
 * @block_size: 0 for the default (4 MiB); 1–16 MiB, a multiple of 4096
 * @size: the size of the image whose data will be given
 * @error: return location for a #GError
 *
 * Starts a checksum that is fed with imgxfer_checksum_update() and
 * imgxfer_checksum_update_zero(), from any threads and in any order, each
 * byte of the image exactly once; imgxfer_checksum_finish() then gives
 * the same checksum as imgxfer_checksum_compute() of the same image.
 *
 * Updates that cover whole blocks are hashed in the calling thread
 * without copying or locking. A block given in several pieces is hashed
 * as its pieces arrive in order; a piece that arrives ahead of its turn
 * is copied until the bytes before it come, so a producer should give the
 * pieces of one block in order (a copy engine whose work units are
 * aligned to the block size does so naturally) to keep memory small.
 *
 * Returns: (transfer full): a new checksum, or %NULL if the algorithm or
 *   the block size is not accepted
 */
ImgxferChecksum *
imgxfer_checksum_new (const char *algorithm,
                      gsize block_size,
                      guint64 size,
                      GError **error)
{
  g_autoptr (ImgxferBlkhash) blkhash = NULL;
  ImgxferChecksum *self;

  blkhash = _imgxfer_blkhash_new (
      algorithm ? algorithm : IMGXFER_CHECKSUM_DEFAULT_ALGORITHM,
      block_size ? block_size : IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE, size,
      error);
  if (blkhash == NULL)
    return NULL;

  self = g_new0 (ImgxferChecksum, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->blkhash = g_steal_pointer (&blkhash);
  g_mutex_init (&self->lock);
  self->partials = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                          partial_unref);
  self->done = g_malloc0 (
      MAX (1, _imgxfer_blkhash_get_n_blocks (self->blkhash)));
  return self;
}

/**
 * imgxfer_checksum_ref:
 * @self: a checksum
 *
 * Returns: (transfer full): @self
 */
ImgxferChecksum *
imgxfer_checksum_ref (ImgxferChecksum *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * imgxfer_checksum_unref:
 * @self: (transfer full): a checksum
 */
void
imgxfer_checksum_unref (ImgxferChecksum *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_hash_table_unref (self->partials);
  _imgxfer_blkhash_free (self->blkhash);
  g_free (self->done);
  g_clear_error (&self->error);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/**
 * imgxfer_checksum_get_algorithm:
 * @self: a checksum
 *
 * Returns: the digest algorithm's name
 */
const char *
imgxfer_checksum_get_algorithm (ImgxferChecksum *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return _imgxfer_blkhash_algorithm_get_name (
      _imgxfer_blkhash_get_algorithm (self->blkhash));
}

/**
 * imgxfer_checksum_get_block_size:
 * @self: a checksum
 *
 * Returns: the block size in bytes
 */
gsize
imgxfer_checksum_get_block_size (ImgxferChecksum *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return _imgxfer_blkhash_get_block_size (self->blkhash);
}

/**
 * imgxfer_checksum_get_size:
 * @self: a checksum
 *
 * Returns: the size of the image being hashed
 */
guint64
imgxfer_checksum_get_size (ImgxferChecksum *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return _imgxfer_blkhash_get_size (self->blkhash);
}

/* With self->lock held: keeps the first misuse for finish(). */
static void G_GNUC_PRINTF (2, 3)
misuse (ImgxferChecksum *self, const char *format, ...)
{
  va_list args;

  if (self->error)
    return;
  va_start (args, format);
  self->error = g_error_new_valist (IMGXFER_ERROR,
                                    IMGXFER_ERROR_INVALID_ARGUMENT, format,
                                    args);
  va_end (args);
}

/* With self->lock held. */
static void
mark_done (ImgxferChecksum *self, guint64 block)
{
  if (self->done[block])
    misuse (self, "checksum: the block at offset %" G_GUINT64_FORMAT
            " was given twice",
            block * _imgxfer_blkhash_get_block_size (self->blkhash));
  self->done[block] = 1;
}

/* Feeds @piece if its turn has come, with partial->lock held. Returns
 * FALSE if it overlaps what was given already. */
static gboolean
partial_add (Partial *partial, Piece *piece)
{
  GSList **link = &partial->pending;
  gsize prev_end = partial->stream.length;

  if (piece->offset < partial->stream.length)
    return FALSE;

  if (piece->offset > partial->stream.length)
    {
      /* Early: wait, copied, in offset order. */
      while (*link && ((Piece *)(*link)->data)->offset < piece->offset)
        {
          Piece *before = (*link)->data;

          prev_end = before->offset + before->length;
          link = &(*link)->next;
        }
      if (prev_end > piece->offset
          || (*link && ((Piece *)(*link)->data)->offset
                           < piece->offset + piece->length))
        return FALSE;
      if (piece->data)
        piece->data = g_memdup2 (piece->data, piece->length);
      *link = g_slist_prepend (*link, g_memdup2 (piece, sizeof *piece));
      return TRUE;
    }

  _imgxfer_block_stream_update (&partial->stream, piece->data, piece->length);
  while (partial->pending)
    {
      Piece *next = partial->pending->data;

      if (next->offset != partial->stream.length)
        break;
      _imgxfer_block_stream_update (&partial->stream, next->data,
                                    next->length);
      partial->pending = g_slist_delete_link (partial->pending,
                                              partial->pending);
      piece_free (next);
    }
  return TRUE;
}

static Partial *
partial_get (ImgxferChecksum *self, guint64 block)
{
  Partial *partial = g_hash_table_lookup (self->partials, &block);

  if (partial == NULL)
    {
      partial = g_atomic_rc_box_new0 (Partial);
      g_mutex_init (&partial->lock);
      partial->block = block;
      partial->length = _imgxfer_blkhash_block_length (self->blkhash, block);
      _imgxfer_block_stream_init (
          &partial->stream, _imgxfer_blkhash_get_algorithm (self->blkhash));
      g_hash_table_insert (self->partials, &partial->block, partial);
    }
  return g_atomic_rc_box_acquire (partial);
}

/* A piece of one block that is not the whole block. */
static void
update_partial (ImgxferChecksum *self, guint64 block, Piece *piece)
{
  Partial *partial;
  gboolean ok;
  gboolean complete;

  g_mutex_lock (&self->lock);
  partial = partial_get (self, block);
  g_mutex_unlock (&self->lock);

  g_mutex_lock (&partial->lock);
  ok = partial_add (partial, piece);
  complete = ok && partial->stream.length == partial->length;
  if (complete)
    _imgxfer_blkhash_set_stream (self->blkhash, block, &partial->stream);
  g_mutex_unlock (&partial->lock);

  g_mutex_lock (&self->lock);
  if (!ok)
    misuse (self, "checksum: the piece at offset %" G_GUINT64_FORMAT
            " overlaps data given before",
            block * _imgxfer_blkhash_get_block_size (self->blkhash)
                + piece->offset);
  if (complete)
    {
      g_hash_table_remove (self->partials, &block);
      mark_done (self, block);
    }
  g_mutex_unlock (&self->lock);
  partial_unref (partial);
}

/* With self->lock held. */
static gboolean
check_update (ImgxferChecksum *self, guint64 offset, guint64 length)
{
  guint64 size = _imgxfer_blkhash_get_size (self->blkhash);

  if (self->finished)
    {
      misuse (self, "checksum: update after finish");
      return FALSE;
    }
  if (offset > size || length > size - offset)
    {
      misuse (self, "checksum: update of %" G_GUINT64_FORMAT
              " bytes at offset %" G_GUINT64_FORMAT
              " is beyond the end of the image (%" G_GUINT64_FORMAT
              " bytes)", length, offset, size);
      return FALSE;
    }
  return TRUE;
}

static void
update (ImgxferChecksum *self,
        guint64 offset,
        const guint8 *data,
        guint64 length)
{
  gsize block_size = _imgxfer_blkhash_get_block_size (self->blkhash);
  ImgxferBlockStream stream;
  gboolean ok;

  g_mutex_lock (&self->lock);
  ok = check_update (self, offset, length);
  g_mutex_unlock (&self->lock);
  if (!ok)
    return;

  _imgxfer_block_stream_init (&stream,
                              _imgxfer_blkhash_get_algorithm (self->blkhash));
  while (length > 0)
    {
      guint64 block = offset / block_size;
      gsize in_block = offset % block_size;
      gsize block_length = _imgxfer_blkhash_block_length (self->blkhash, block);
      gsize n = MIN (length, block_length - in_block);

      if (n == block_length && data == NULL)
        {
          /* Whole zero blocks, possibly many: no hashing at all. */
          guint64 count = MIN (length / block_size,
                               _imgxfer_blkhash_get_n_blocks (self->blkhash)
                                   - block);

          if (count == 0)
            count = 1; /* the short last block */
          n = MIN (length, count * block_size);
          _imgxfer_blkhash_set_zero (self->blkhash, block, count);
          g_mutex_lock (&self->lock);
          for (guint64 b = block; b < block + count; b++)
            mark_done (self, b);
          g_mutex_unlock (&self->lock);
        }
      else if (n == block_length)
        {
          _imgxfer_block_stream_update (&stream, data, n);
          _imgxfer_blkhash_set_stream (self->blkhash, block, &stream);
          g_mutex_lock (&self->lock);
          mark_done (self, block);
          g_mutex_unlock (&self->lock);
        }
      else
        {
          Piece piece = { in_block, n, (guint8 *)data };

          update_partial (self, block, &piece);
        }

      offset += n;
      length -= n;
      if (data)
        data += n;
    }
  _imgxfer_block_stream_clear (&stream);
}

/**
 * imgxfer_checksum_update:
 * @self: a checksum
 * @offset: where @data lies in the image
 * @data: (array length=length) (element-type guint8): the image's bytes
 * @length: how many
 *
 * Gives bytes of the image. Thread safe. Misuse (a range beyond the end,
 * bytes given twice) is reported by imgxfer_checksum_finish().
 */
void
imgxfer_checksum_update (ImgxferChecksum *self,
                         guint64 offset,
                         const void *data,
                         gsize length)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || length == 0);

  update (self, offset, data, length);
}

/**
 * imgxfer_checksum_update_zero:
 * @self: a checksum
 * @offset: where the zeroes start
 * @length: how many zero bytes
 *
 * Says that a range of the image reads as zeroes. Whole zero blocks cost
 * nothing to hash. Thread safe.
 */
void
imgxfer_checksum_update_zero (ImgxferChecksum *self,
                              guint64 offset,
                              guint64 length)
{
  g_return_if_fail (self != NULL);

  update (self, offset, NULL, length);
}

/**
 * imgxfer_checksum_finish:
 * @self: a checksum
 * @error: return location for a #GError
 *
 * Combines the block digests, once every byte of the image was given.
 * Fails with %IMGXFER_ERROR_INVALID_ARGUMENT if some were not, or were
 * given twice, or beyond the end. No update may follow.
 *
 * Returns: (transfer full): the checksum as lowercase hex, or %NULL
 */
char *
imgxfer_checksum_finish (ImgxferChecksum *self, GError **error)
{
  guint64 n_blocks;
  const guint8 *missing;

  g_return_val_if_fail (self != NULL, NULL);

  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  n_blocks = _imgxfer_blkhash_get_n_blocks (self->blkhash);
  missing = n_blocks ? memchr (self->done, 0, n_blocks) : NULL;
  if (missing && self->error == NULL)
    misuse (self, "checksum: the block at offset %" G_GUINT64_FORMAT
            " was not given entirely",
            (guint64)(missing - self->done)
                * _imgxfer_blkhash_get_block_size (self->blkhash));
  g_mutex_unlock (&self->lock);

  if (self->error)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return NULL;
    }
  return _imgxfer_blkhash_finish (self->blkhash);
}
