/* imgxfer-checksum.c: a blkhash checksum fed incrementally
 *
 * An #ImgxferChecksum takes the data of an image as a copy passes it
 * along, so the checksum of what was written needs no second read. It
 * fills the same table of block digests as imgxfer_checksum_compute()
 * (imgxfer-blkhash.c) and combines it at the end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-blkhash-private.h"

/**
 * imgxfer_checksum_list_algorithms:
 *
 * Lists the digest algorithms a blkhash checksum can use: blake2b and
 * blake2s (with a 32-byte digest), and the digests of libcrypto. Thread
 * safe.
 *
 * Returns: (transfer none) (array zero-terminated=1): the names of the
 *   digest algorithms the checksum can use, sorted
 *
 * Since: 0.1
 */
const char *const *
imgxfer_checksum_list_algorithms (void)
{
  return _imgxfer_blkhash_algorithm_names ();
}

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
 * @algorithm: (nullable): digest algorithm (one of
 *   imgxfer_checksum_list_algorithms()), blake2b when %NULL
 * @block_size: 0 for the default (4 MiB); 1–16 MiB, a multiple of 4096
 * @size: the size of the image whose data will be given
 * @error: return location for a #GError
 *
 * Starts a checksum that is fed with imgxfer_checksum_update() and
 * imgxfer_checksum_update_zero(), from any threads and in any order, each
 * byte of the image exactly once; imgxfer_checksum_finish() then gives
 * the same checksum as imgxfer_checksum_compute() of the same image.
 *
 * Updates that cover whole blocks are hashed in the calling thread,
 * without copying, in parallel with other threads. A block given in
 * several pieces is hashed as its pieces arrive in order; a piece that
 * arrives ahead of its turn is copied until the bytes before it come, so
 * a producer should give the pieces of one block in order (a copy engine
 * whose work units are aligned to the block size does so naturally) to
 * keep memory small.
 *
 * Returns: (transfer full): a new checksum, or %NULL with
 *   %IMGXFER_ERROR_INVALID_ARGUMENT when the algorithm or the block size
 *   is not accepted, or %IMGXFER_ERROR_NOT_SUPPORTED when libcrypto, which
 *   the algorithms other than blake2 need, cannot be loaded
 *
 * Since: 0.1
 */
ImgxferChecksum *
imgxfer_checksum_new (const char *algorithm,
                      gsize block_size,
                      guint64 size,
                      GError **error)
{
  g_autoptr (ImgxferBlkhash) blkhash = NULL;
  ImgxferChecksum *self;

  blkhash = _imgxfer_blkhash_new (algorithm, block_size, size, error);
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
 * Takes a reference to @self. Thread safe.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
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
 *
 * Drops a reference to @self, freeing it with the last one. Thread safe.
 *
 * Since: 0.1
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
 * Gets the digest algorithm of the checksum, blake2b when none was given.
 *
 * Returns: the digest algorithm's name
 *
 * Since: 0.1
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
 * Gets the block size of the checksum, 4 MiB when 0 was given.
 *
 * Returns: the block size in bytes
 *
 * Since: 0.1
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
 * Gets the size of the image the checksum was started for.
 *
 * Returns: the size of the image being hashed
 *
 * Since: 0.1
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
 *
 * Since: 0.1
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
 *
 * Since: 0.1
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
 * Returns: (transfer full): the checksum as lowercase hex, or %NULL with
 *   @error set
 *
 * Since: 0.1
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
