/* imgxfer-memory-store.c: the sparse bytes behind memory: images
 *
 * Chunks of IMGXFER_MEMORY_CHUNK_SIZE bytes in a hash table keyed by chunk
 * index; a chunk missing from the table reads as zeroes. Besides the data,
 * a store keeps what tests need to watch and break the engine: request
 * counters, one-shot injected faults, and hole and dirty marks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "imgxfer-memory-store.h"

#define CHUNK IMGXFER_MEMORY_CHUNK_SIZE

typedef struct
{
  guint64 count;
  guint64 bytes;
  guint64 largest;
  guint64 fail_at; /* count at which the request fails; 0: never */
} OpStats;

struct _ImgxferMemoryStore
{
  /* Counted under stores_lock, so that a named store is never found in
   * the table while it is being freed. */
  guint refs;
  char *name; /* NULL when anonymous */
  char *url;  /* for error messages */
  guint64 size;

  GMutex lock;
  GHashTable *chunks; /* chunk index => guint8[CHUNK] */
  GArray *holes;      /* ImgxferExtent */
  GArray *dirty;      /* ImgxferExtent */
  OpStats stats[IMGXFER_MEMORY_N_OPS];
  guint64 short_read_at;
  guint64 trims;
  guint connections;
  guint open_connections;
  guint peak_connections;
};

static GMutex stores_lock;
static GHashTable *named_stores; /* name => ImgxferMemoryStore, not owned */

static ImgxferMemoryStore *
store_new (const char *url, const char *name, guint64 size)
{
  ImgxferMemoryStore *store = g_new0 (ImgxferMemoryStore, 1);

  store->refs = 1;
  store->name = name[0] ? g_strdup (name) : NULL;
  store->url = g_strdup (url);
  store->size = size;
  g_mutex_init (&store->lock);
  store->chunks = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                         g_free);
  store->holes = g_array_new (FALSE, FALSE, sizeof (ImgxferExtent));
  store->dirty = g_array_new (FALSE, FALSE, sizeof (ImgxferExtent));
  return store;
}

static void
store_free (ImgxferMemoryStore *store)
{
  g_hash_table_unref (store->chunks);
  g_array_unref (store->holes);
  g_array_unref (store->dirty);
  g_mutex_clear (&store->lock);
  g_free (store->name);
  g_free (store->url);
  g_free (store);
}

ImgxferMemoryStore *
_imgxfer_memory_store_open (const char *url,
                            const char *name,
                            guint64 size,
                            GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&stores_lock);
  ImgxferMemoryStore *store = NULL;

  if (name[0] && named_stores)
    store = g_hash_table_lookup (named_stores, name);

  if (store)
    {
      if (size != G_MAXUINT64 && size != store->size)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                       "%s: the image %s exists with another size (%"
                       G_GUINT64_FORMAT " bytes)",
                       url, name, store->size);
          return NULL;
        }
      store->refs++;
      return store;
    }

  if (size == G_MAXUINT64)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: a new memory image needs a size (?size=SIZE)", url);
      return NULL;
    }

  store = store_new (url, name, size);
  if (store->name)
    {
      if (named_stores == NULL)
        named_stores = g_hash_table_new (g_str_hash, g_str_equal);
      g_hash_table_insert (named_stores, store->name, store);
    }
  return store;
}

ImgxferMemoryStore *
_imgxfer_memory_store_ref (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&stores_lock);

  store->refs++;
  return store;
}

void
_imgxfer_memory_store_unref (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&stores_lock);

  if (--store->refs > 0)
    return;

  if (store->name)
    {
      g_hash_table_remove (named_stores, store->name);
      if (g_hash_table_size (named_stores) == 0)
        g_clear_pointer (&named_stores, g_hash_table_unref);
    }
  store_free (store);
}

guint64
_imgxfer_memory_store_get_size (ImgxferMemoryStore *store)
{
  return store->size;
}

void
_imgxfer_memory_store_connection_opened (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  store->connections++;
  store->open_connections++;
  store->peak_connections
      = MAX (store->peak_connections, store->open_connections);
}

static const char *
op_name (ImgxferMemoryOp op)
{
  static const char *const names[]
      = { "read", "write", "zero", "flush", "extents", "close" };

  return names[op];
}

/* Counts a request and fails it when a fault was injected for it. Called
 * with the lock held. */
static gboolean
count_request (ImgxferMemoryStore *store,
               ImgxferMemoryOp op,
               guint64 length,
               guint64 offset,
               GError **error)
{
  OpStats *stats = &store->stats[op];

  stats->count++;
  stats->bytes += length;
  stats->largest = MAX (stats->largest, length);

  if (stats->count != stats->fail_at)
    return TRUE;

  stats->fail_at = 0;
  if (op == IMGXFER_MEMORY_OP_FLUSH || op == IMGXFER_MEMORY_OP_CLOSE)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (EIO),
                 "%s: %s failed: %s (injected)", store->url,
                 op == IMGXFER_MEMORY_OP_FLUSH ? "flush" : "write-back",
                 g_strerror (EIO));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (EIO),
                 "%s: %s of %" G_GUINT64_FORMAT " bytes at offset %"
                 G_GUINT64_FORMAT " failed: %s (injected)",
                 store->url, op_name (op), length, offset, g_strerror (EIO));
  return FALSE;
}

gboolean
_imgxfer_memory_store_connection_closed (ImgxferMemoryStore *store,
                                         GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  store->open_connections--;
  return count_request (store, IMGXFER_MEMORY_OP_CLOSE, 0, 0, error);
}

static guint8 *
lookup_chunk (ImgxferMemoryStore *store, guint64 index)
{
  return g_hash_table_lookup (store->chunks, GSIZE_TO_POINTER (index));
}

static guint8 *
get_chunk (ImgxferMemoryStore *store, guint64 index)
{
  guint8 *chunk = lookup_chunk (store, index);

  if (chunk == NULL)
    {
      chunk = g_malloc0 (CHUNK);
      g_hash_table_insert (store->chunks, GSIZE_TO_POINTER (index), chunk);
    }
  return chunk;
}

/* The part of a request that lies in one chunk. */
typedef struct
{
  guint64 index; /* of the chunk */
  gsize skip;    /* bytes of the chunk before the piece */
  gsize length;
} Piece;

static Piece
piece_at (guint64 offset, guint64 remaining)
{
  Piece piece = { offset / CHUNK, offset % CHUNK, 0 };

  piece.length = MIN (CHUNK - piece.skip, remaining);
  return piece;
}

gboolean
_imgxfer_memory_store_read (ImgxferMemoryStore *store,
                            void *buffer,
                            gsize length,
                            guint64 offset,
                            GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  guint8 *out = buffer;
  gboolean short_read;

  if (!count_request (store, IMGXFER_MEMORY_OP_READ, length, offset, error))
    return FALSE;

  short_read = store->stats[IMGXFER_MEMORY_OP_READ].count
               == store->short_read_at;
  if (short_read)
    {
      store->short_read_at = 0;
      length /= 2;
    }

  for (gsize done = 0; done < length;)
    {
      Piece p = piece_at (offset + done, length - done);
      const guint8 *chunk = lookup_chunk (store, p.index);

      if (chunk)
        memcpy (out + done, chunk + p.skip, p.length);
      else
        memset (out + done, 0, p.length);
      done += p.length;
    }

  if (short_read)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ,
                   "%s: short read at offset %" G_GUINT64_FORMAT
                   ": %" G_GSIZE_FORMAT " bytes (injected)",
                   store->url, offset, length);
      return FALSE;
    }
  return TRUE;
}

gboolean
_imgxfer_memory_store_write (ImgxferMemoryStore *store,
                             const void *buffer,
                             gsize length,
                             guint64 offset,
                             GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  const guint8 *in = buffer;

  if (!count_request (store, IMGXFER_MEMORY_OP_WRITE, length, offset, error))
    return FALSE;

  for (gsize done = 0; done < length;)
    {
      Piece p = piece_at (offset + done, length - done);

      memcpy (get_chunk (store, p.index) + p.skip, in + done, p.length);
      done += p.length;
    }
  return TRUE;
}

/* A chunk wholly inside the range is dropped when the caller allows
 * deallocation, and cleared otherwise, so that tests can tell which was
 * asked. Chunks never written stay unstored either way. */
gboolean
_imgxfer_memory_store_zero (ImgxferMemoryStore *store,
                            guint64 offset,
                            guint64 length,
                            gboolean may_trim,
                            GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  if (!count_request (store, IMGXFER_MEMORY_OP_ZERO, length, offset, error))
    return FALSE;
  if (may_trim)
    store->trims++;

  for (guint64 done = 0; done < length;)
    {
      Piece p = piece_at (offset + done, length - done);
      guint8 *chunk = lookup_chunk (store, p.index);

      if (chunk && may_trim && p.length == CHUNK)
        g_hash_table_remove (store->chunks, GSIZE_TO_POINTER (p.index));
      else if (chunk)
        memset (chunk + p.skip, 0, p.length);
      done += p.length;
    }
  return TRUE;
}

gboolean
_imgxfer_memory_store_flush (ImgxferMemoryStore *store, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  return count_request (store, IMGXFER_MEMORY_OP_FLUSH, 0, 0, error);
}

/* Whether @offset lies in one of @marks; *@next is lowered to the next
 * offset where that may change. */
static gboolean
in_marks (GArray *marks, guint64 offset, guint64 *next)
{
  gboolean inside = FALSE;

  for (guint i = 0; i < marks->len; i++)
    {
      const ImgxferExtent *m = &g_array_index (marks, ImgxferExtent, i);
      guint64 end = m->start + m->length;

      if (offset >= m->start && offset < end)
        {
          inside = TRUE;
          *next = MIN (*next, end);
        }
      else if (m->start > offset)
        *next = MIN (*next, m->start);
    }
  return inside;
}

gboolean
_imgxfer_memory_store_extents (ImgxferMemoryStore *store,
                               ImgxferExtentContext context,
                               guint64 offset,
                               guint64 length,
                               GArray *extents,
                               GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  guint64 end = MIN (offset + length, store->size);

  if (!count_request (store, IMGXFER_MEMORY_OP_EXTENTS, length, offset,
                      error))
    return FALSE;

  while (offset < end)
    {
      guint64 next = MIN ((offset / CHUNK + 1) * CHUNK, end);
      ImgxferExtentFlags flags = IMGXFER_EXTENT_DATA;

      if (lookup_chunk (store, offset / CHUNK) == NULL)
        flags |= IMGXFER_EXTENT_ZERO;
      if (context == IMGXFER_EXTENT_CONTEXT_ZERO)
        {
          if (in_marks (store->holes, offset, &next))
            flags |= IMGXFER_EXTENT_HOLE;
        }
      else if (in_marks (store->dirty, offset, &next))
        flags |= IMGXFER_EXTENT_DIRTY;

      imgxfer_extents_append (extents, offset, next - offset, flags);
      offset = next;
    }
  return TRUE;
}

void
_imgxfer_memory_store_fail_nth (ImgxferMemoryStore *store,
                                ImgxferMemoryOp op,
                                guint n)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  store->stats[op].fail_at = n ? store->stats[op].count + n : 0;
}

void
_imgxfer_memory_store_short_read_nth (ImgxferMemoryStore *store, guint n)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  store->short_read_at
      = n ? store->stats[IMGXFER_MEMORY_OP_READ].count + n : 0;
}

void
_imgxfer_memory_store_mark (ImgxferMemoryStore *store,
                            guint64 offset,
                            guint64 length,
                            ImgxferExtentFlags flags)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  ImgxferExtent mark = { offset, length, flags };

  if (flags & IMGXFER_EXTENT_HOLE)
    g_array_append_val (store->holes, mark);
  if (flags & IMGXFER_EXTENT_DIRTY)
    g_array_append_val (store->dirty, mark);
}

guint64
_imgxfer_memory_store_get_stat (ImgxferMemoryStore *store,
                                ImgxferMemoryOp op,
                                ImgxferMemoryStat stat)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  switch (stat)
    {
    case IMGXFER_MEMORY_STAT_COUNT:
      return store->stats[op].count;
    case IMGXFER_MEMORY_STAT_BYTES:
      return store->stats[op].bytes;
    case IMGXFER_MEMORY_STAT_LARGEST:
      return store->stats[op].largest;
    }
  g_return_val_if_reached (0);
}

guint64
_imgxfer_memory_store_get_trim_count (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  return store->trims;
}

guint
_imgxfer_memory_store_get_connections (ImgxferMemoryStore *store,
                                       gboolean peak)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  return peak ? store->peak_connections : store->connections;
}

/* Pending faults are kept relative to the new counts. */
void
_imgxfer_memory_store_reset_counters (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  for (guint op = 0; op < IMGXFER_MEMORY_N_OPS; op++)
    {
      OpStats *stats = &store->stats[op];

      if (stats->fail_at)
        stats->fail_at -= stats->count;
      if (op == IMGXFER_MEMORY_OP_READ && store->short_read_at)
        store->short_read_at -= stats->count;
      stats->count = stats->bytes = stats->largest = 0;
    }
  store->trims = 0;
}

guint
_imgxfer_memory_store_get_stored_chunks (ImgxferMemoryStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);

  return g_hash_table_size (store->chunks);
}
