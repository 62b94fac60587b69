/* imgxfer-qcow2-image.c: a new qcow2 image, written directly
 *
 * A copy into a new qcow2 image writes its clusters here rather than
 * through qemu-nbd: the data goes from the copy's buffers into the image
 * file, with no socket and no second process in between.
 *
 * The image is qcow2 version 3 with 64 KiB clusters and 16-bit refcounts,
 * as `qemu-img create -f qcow2` makes it. The header, the L1 table and
 * the refcount table come first, at places fixed when the image is
 * created; refcount blocks, L2 tables and data clusters follow in the
 * order they are first needed. Clusters are never freed or moved, so
 * every cluster below the allocation mark has a refcount of 1, and
 * nothing else: the refcount blocks are written by
 * _imgxfer_qcow2_image_commit(). Until then the header carries the dirty
 * bit, which tells qemu to rebuild the refcounts of an image whose copy
 * never finished.
 *
 * L1 entries, L2 entries and refcount table entries are written through
 * when a cluster is allocated. The L1 table and the refcount table stay
 * in memory too (8 bytes per 512 MiB of guest data, and per 2 GiB of
 * image file); L2 entries are read back from the image file, from the
 * page cache, so memory use does not grow with the image.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "drivers/common/imgxfer-image-lock.h"
#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qcow2-image.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_VERSION 3
#define HEADER_LENGTH 112 /* version 3 with the compression type */

#define CLUSTER_BITS 16
#define CLUSTER_SIZE (G_GUINT64_CONSTANT (1) << CLUSTER_BITS)
#define L2_ENTRIES (CLUSTER_SIZE / sizeof (guint64))
#define REFCOUNT_ORDER 4 /* 16 bits */
#define REFCOUNTS_PER_BLOCK (CLUSTER_SIZE / sizeof (guint16))

/* L1 and L2 entries. COPIED says the refcount is exactly 1. */
#define ENTRY_COPIED (G_GUINT64_CONSTANT (1) << 63)
#define ENTRY_OFFSET_MASK G_GUINT64_CONSTANT (0x00fffffffffffe00)

#define INCOMPATIBLE_DIRTY (G_GUINT64_CONSTANT (1) << 0)
#define HEADER_INCOMPATIBLE_FEATURES 72

/* qemu refuses L1 tables over 32 MiB: 2 PiB of guest data. */
#define MAX_L1_SIZE (32 * 1024 * 1024 / sizeof (guint64))

/* Clusters mapped under the lock at a time, as a stack array. */
#define MAP_CHUNK 512

struct _ImgxferQcow2Image
{
  gatomicrefcount ref;
  char *path;
  int fd;
  ImgxferImageLock *image_lock; /* qemu's, for as long as the image lives */
  guint64 size; /* virtual */

  GMutex lock; /* everything below */
  guint64 l1_offset;
  guint64 *l1; /* host offsets of L2 tables; 0: none yet */
  guint32 l1_size;
  guint64 refcount_table_offset;
  guint64 *refcount_blocks; /* host offsets; 0: none yet */
  guint64 n_refcount_blocks;
  guint64 next_cluster;       /* the allocation mark */
  guint64 committed_clusters; /* whose refcounts are on disk */
  gboolean dirty;             /* the header's dirty bit is set */
};

static void
put_be32 (guint8 *p, guint32 value)
{
  value = GUINT32_TO_BE (value);
  memcpy (p, &value, sizeof value);
}

static void
put_be64 (guint8 *p, guint64 value)
{
  value = GUINT64_TO_BE (value);
  memcpy (p, &value, sizeof value);
}

static gboolean
write_at (ImgxferQcow2Image *self, const void *buffer, gsize length,
          guint64 offset, GError **error)
{
  return _imgxfer_local_pio (self->fd, self->path, TRUE, (void *)buffer, length,
                             offset, error);
}

static gboolean
write_be64 (ImgxferQcow2Image *self, guint64 value, guint64 offset,
            GError **error)
{
  guint8 buffer[8];

  put_be64 (buffer, value);
  return write_at (self, buffer, sizeof buffer, offset, error);
}

static gboolean
write_header (ImgxferQcow2Image *self, GError **error)
{
  /* The header, then the end of the (empty) list of extensions. */
  guint8 header[HEADER_LENGTH + 8] = { 0 };
  guint64 refcount_table_clusters
      = self->n_refcount_blocks * sizeof (guint64) / CLUSTER_SIZE;

  put_be32 (header + 0, QCOW2_MAGIC);
  put_be32 (header + 4, QCOW2_VERSION);
  put_be32 (header + 20, CLUSTER_BITS);
  put_be64 (header + 24, self->size);
  put_be32 (header + 36, self->l1_size);
  put_be64 (header + 40, self->l1_offset);
  put_be64 (header + 48, self->refcount_table_offset);
  put_be32 (header + 56, refcount_table_clusters);
  put_be64 (header + HEADER_INCOMPATIBLE_FEATURES,
            self->dirty ? INCOMPATIBLE_DIRTY : 0);
  put_be32 (header + 96, REFCOUNT_ORDER);
  put_be32 (header + 100, HEADER_LENGTH);
  return write_at (self, header, sizeof header, 0, error);
}

static gboolean
set_dirty (ImgxferQcow2Image *self, gboolean dirty, GError **error)
{
  if (!write_be64 (self, dirty ? INCOMPATIBLE_DIRTY : 0,
                   HEADER_INCOMPATIBLE_FEATURES, error))
    return FALSE;
  self->dirty = dirty;
  return TRUE;
}

/* Takes the next cluster of the file. The refcount block that counts a
 * cluster is allocated before it, at the first cluster it counts. */
static gboolean
allocate_cluster (ImgxferQcow2Image *self, guint64 *offset, GError **error)
{
  if (!self->dirty && !set_dirty (self, TRUE, error))
    return FALSE;

  for (;;)
    {
      guint64 cluster = self->next_cluster;
      guint64 block = cluster / REFCOUNTS_PER_BLOCK;

      if (block >= self->n_refcount_blocks)
        {
          /* The table was sized for every cluster the image can need. */
          g_set_error (
              error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
              "%s: qcow2 refcount table full at cluster %" G_GUINT64_FORMAT,
              self->path, cluster);
          return FALSE;
        }
      self->next_cluster++;
      if (self->refcount_blocks[block] != 0)
        {
          *offset = cluster << CLUSTER_BITS;
          return TRUE;
        }

      self->refcount_blocks[block] = cluster << CLUSTER_BITS;
      if (!write_be64 (self, self->refcount_blocks[block],
                       self->refcount_table_offset + block * sizeof (guint64),
                       error))
        return FALSE;
    }
}

/* The table is written whole at once, zeroes included: its entries are
 * read back before they are all set, and a read past the end of the
 * file would fail. */
static gboolean
allocate_l2_table (ImgxferQcow2Image *self, guint32 index, GError **error)
{
  g_autofree void *table = g_malloc0 (CLUSTER_SIZE);
  guint64 offset;

  if (!allocate_cluster (self, &offset, error)
      || !write_at (self, table, CLUSTER_SIZE, offset, error)
      || !write_be64 (self, offset | ENTRY_COPIED,
                      self->l1_offset + index * sizeof (guint64), error))
    return FALSE;
  self->l1[index] = offset;
  return TRUE;
}

/* Host offsets of @count clusters from @cluster, all in one L2 table; 0
 * for those not allocated (and not to be). */
static gboolean
map_in_l2_table (ImgxferQcow2Image *self, guint64 cluster, guint count,
                 gboolean allocate, guint64 *hosts, GError **error)
{
  guint32 index = cluster / L2_ENTRIES;
  guint64 entries[MAP_CHUNK];
  guint64 entries_offset;
  guint first_new = count, last_new = 0;

  if (self->l1[index] == 0)
    {
      if (!allocate)
        {
          memset (hosts, 0, count * sizeof *hosts);
          return TRUE;
        }
      if (!allocate_l2_table (self, index, error))
        return FALSE;
    }

  entries_offset = self->l1[index] + (cluster % L2_ENTRIES) * sizeof (guint64);
  if (!_imgxfer_local_pio (self->fd, self->path, FALSE, entries,
                           count * sizeof (guint64), entries_offset, error))
    return FALSE;

  for (guint i = 0; i < count; i++)
    {
      hosts[i] = GUINT64_FROM_BE (entries[i]) & ENTRY_OFFSET_MASK;
      if (hosts[i] != 0 || !allocate)
        continue;
      if (!allocate_cluster (self, &hosts[i], error))
        return FALSE;
      entries[i] = GUINT64_TO_BE (hosts[i] | ENTRY_COPIED);
      first_new = MIN (first_new, i);
      last_new = i;
    }

  if (first_new == count)
    return TRUE;
  return write_at (self, entries + first_new,
                   (last_new - first_new + 1) * sizeof (guint64),
                   entries_offset + first_new * sizeof (guint64), error);
}

static gboolean
map_clusters (ImgxferQcow2Image *self, guint64 cluster, guint count,
              gboolean allocate, guint64 *hosts, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  while (count > 0)
    {
      guint n = MIN (count, L2_ENTRIES - cluster % L2_ENTRIES);

      if (!map_in_l2_table (self, cluster, n, allocate, hosts, error))
        return FALSE;
      cluster += n;
      hosts += n;
      count -= n;
    }
  return TRUE;
}

/* Calls @func for each run of the guest range that is consecutive in the
 * file, skipping clusters that have no host offset. */
static gboolean
emit_runs (const guint64 *hosts, guint64 offset, guint64 end,
           ImgxferQcow2RunFunc func, gpointer user_data, GError **error)
{
  guint i = 0;

  while (offset < end)
    {
      guint64 in_cluster = offset & (CLUSTER_SIZE - 1);
      guint64 file_offset = hosts[i] + in_cluster;
      guint64 run_end = MIN (end, offset - in_cluster + CLUSTER_SIZE);

      while (run_end < end && hosts[i] != 0
             && hosts[i + 1] == hosts[i] + CLUSTER_SIZE)
        {
          i++;
          run_end = MIN (end, run_end + CLUSTER_SIZE);
        }
      if (hosts[i] != 0
          && !func (offset, file_offset, run_end - offset, user_data, error))
        return FALSE;
      offset = run_end;
      i++;
    }
  return TRUE;
}

gboolean
_imgxfer_qcow2_image_map (ImgxferQcow2Image *self, guint64 offset,
                          guint64 length, gboolean allocate,
                          ImgxferQcow2RunFunc func, gpointer user_data,
                          GError **error)
{
  guint64 end = offset + length;

  while (offset < end)
    {
      guint64 hosts[MAP_CHUNK];
      guint64 cluster = offset >> CLUSTER_BITS;
      guint64 chunk_end = MIN (end, (cluster + MAP_CHUNK) << CLUSTER_BITS);
      guint count = ((chunk_end - 1) >> CLUSTER_BITS) - cluster + 1;

      if (!map_clusters (self, cluster, count, allocate, hosts, error)
          || !emit_runs (hosts, offset, chunk_end, func, user_data, error))
        return FALSE;
      offset = chunk_end;
    }
  return TRUE;
}

/* Refcount blocks from the one that counts cluster @from, up to the
 * allocation mark: 1 for every cluster below it. */
static gboolean
write_refcounts (ImgxferQcow2Image *self, guint64 from, GError **error)
{
  g_autofree guint16 *counts = g_new (guint16, REFCOUNTS_PER_BLOCK);
  guint64 block = from / REFCOUNTS_PER_BLOCK;
  guint64 last = (self->next_cluster - 1) / REFCOUNTS_PER_BLOCK;

  for (; block <= last; block++)
    {
      guint64 first_cluster = block * REFCOUNTS_PER_BLOCK;
      guint64 used
          = MIN (REFCOUNTS_PER_BLOCK, self->next_cluster - first_cluster);

      for (guint64 i = 0; i < REFCOUNTS_PER_BLOCK; i++)
        counts[i] = GUINT16_TO_BE (i < used ? 1 : 0);
      if (!write_at (self, counts, CLUSTER_SIZE, self->refcount_blocks[block],
                     error))
        return FALSE;
    }
  return TRUE;
}

/* A cluster allocated but never written may lie past the end of the
 * file; qemu-img check wants every cluster with a refcount inside it. */
static gboolean
extend_file (ImgxferQcow2Image *self, GError **error)
{
  guint64 size = self->next_cluster << CLUSTER_BITS;
  struct stat st;

  if (fstat (self->fd, &st) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "stat", 0);
  if ((guint64)st.st_size < size && ftruncate (self->fd, size) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "resize", size);
  return TRUE;
}

static gboolean
sync_file (ImgxferQcow2Image *self, GError **error)
{
  if (fdatasync (self->fd) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "flush", 0);
  return TRUE;
}

/* Makes the image consistent and durable: refcounts written, then the
 * dirty bit cleared once everything it covered is on disk. */
gboolean
_imgxfer_qcow2_image_commit (ImgxferQcow2Image *self, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  if (self->dirty)
    {
      if (!write_refcounts (self, self->committed_clusters, error)
          || !extend_file (self, error) || !sync_file (self, error)
          || !set_dirty (self, FALSE, error))
        return FALSE;
      self->committed_clusters = self->next_cluster;
    }
  return sync_file (self, error);
}

/* Every cluster the image can ever have needs a refcount: the metadata
 * and a data cluster for each guest cluster. */
static guint64
refcount_blocks_needed (guint64 size, guint64 l1_clusters, guint32 l1_size)
{
  guint64 data = (size + CLUSTER_SIZE - 1) >> CLUSTER_BITS;
  guint64 clusters = 1 + l1_clusters + l1_size + data;
  /* The refcount table and blocks count themselves too: add a cluster
   * for each, with room to spare. */
  guint64 blocks = clusters / (REFCOUNTS_PER_BLOCK - 2) + 2;

  /* Whole clusters of refcount table. */
  return (blocks * sizeof (guint64) + CLUSTER_SIZE - 1) / CLUSTER_SIZE
         * (CLUSTER_SIZE / sizeof (guint64));
}

static gboolean
lay_out (ImgxferQcow2Image *self, GError **error)
{
  guint64 size = self->size;
  guint64 l1_size
      = (size + CLUSTER_SIZE * L2_ENTRIES - 1) / (CLUSTER_SIZE * L2_ENTRIES);
  guint64 l1_clusters, table_clusters;

  if (l1_size > MAX_L1_SIZE)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: %" G_GUINT64_FORMAT " bytes is too large for a "
                   "qcow2 image",
                   self->path, size);
      return FALSE;
    }

  self->l1_size = l1_size;
  /* An image of 0 bytes has no L1 table: qemu would see the cluster as
   * leaked. */
  l1_clusters = (l1_size * sizeof (guint64) + CLUSTER_SIZE - 1) / CLUSTER_SIZE;
  self->l1 = g_new0 (guint64, MAX (l1_size, 1));
  self->n_refcount_blocks = refcount_blocks_needed (size, l1_clusters, l1_size);
  self->refcount_blocks = g_new0 (guint64, self->n_refcount_blocks);
  table_clusters = self->n_refcount_blocks * sizeof (guint64) / CLUSTER_SIZE;

  self->l1_offset = l1_clusters ? CLUSTER_SIZE : 0;
  self->refcount_table_offset = (1 + l1_clusters) << CLUSTER_BITS;
  self->next_cluster = 1 + l1_clusters + table_clusters;
  return TRUE;
}

/* Makes an empty, consistent image at @path, replacing any file there. */
ImgxferQcow2Image *
_imgxfer_qcow2_image_create (const char *path, guint64 size, GError **error)
{
  g_autoptr (ImgxferQcow2Image) self = g_new0 (ImgxferQcow2Image, 1);
  guint64 unused;

  g_atomic_ref_count_init (&self->ref);
  g_mutex_init (&self->lock);
  self->path = g_strdup (path);
  /* Truncated only once qemu's locks say no one else uses the file. */
  self->fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (self->fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot create %s: %s", path, g_strerror (saved_errno));
      return NULL;
    }
  self->image_lock = _imgxfer_image_lock_for_write (self->fd, path, error);
  if (self->image_lock == NULL)
    return NULL;
  if (ftruncate (self->fd, 0) < 0)
    {
      _imgxfer_set_errno_error (error, errno, path, "truncate", 0);
      return NULL;
    }
  /* qemu counts a virtual size in 512-byte sectors, and would not see
   * the bytes of a partial last one. */
  self->size = _imgxfer_sector_round_up (size);
  if (!lay_out (self, error))
    return NULL;

  /* Dirty until committed; the first allocation is the refcount block
   * that counts the metadata. */
  self->dirty = TRUE;
  if (!write_header (self, error) || !allocate_cluster (self, &unused, error))
    return NULL;
  self->next_cluster--; /* only the block was needed */
  if (!_imgxfer_qcow2_image_commit (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

ImgxferQcow2Image *
_imgxfer_qcow2_image_ref (ImgxferQcow2Image *self)
{
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
_imgxfer_qcow2_image_unref (ImgxferQcow2Image *self)
{
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  if (self->fd >= 0)
    close (self->fd);
  g_clear_pointer (&self->image_lock, _imgxfer_image_lock_unref);
  g_free (self->path);
  g_free (self->l1);
  g_free (self->refcount_blocks);
  g_mutex_clear (&self->lock);
  g_free (self);
}

guint64
_imgxfer_qcow2_image_get_size (ImgxferQcow2Image *self)
{
  return self->size;
}

int
_imgxfer_qcow2_image_get_fd (ImgxferQcow2Image *self)
{
  return self->fd;
}

const char *
_imgxfer_qcow2_image_get_path (ImgxferQcow2Image *self)
{
  return self->path;
}
