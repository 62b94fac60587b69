/* imgxfer-file-backend.c: images in local files and block devices
 *
 * Raw bytes of a regular file or a block device. Holes are found with
 * SEEK_DATA/SEEK_HOLE and reported as zero (not as holes: nothing shows
 * through a raw file). Zeroing never discards: it uses ZERO_RANGE or
 * PUNCH_HOLE (which reads back as zeroes), BLKZEROOUT on block devices,
 * and leaves writing zeroes to the caller when none of them works.
 *
 * With the "direct" open option the descriptor bypasses the page cache
 * (O_DIRECT). Aligned requests in unaligned memory go through an aligned
 * bounce buffer; requests whose offset or length is not aligned (the tail
 * of an image whose size is not a multiple of the block size) are done
 * with O_DIRECT turned off for that request, as dd does: writing a whole
 * aligned block there would grow the file.
 *
 * A regular file is seen at its size rounded up to 512 bytes, the tail
 * reading as zeroes (see IMGXFER_SECTOR_SIZE); writing there extends it.
 *
 * A pipe or a character device (/dev/null) can be a destination, written
 * strictly in order with write(): it has no size, cannot seek, and is
 * never truncated. A write out of order is an error, never a silent
 * reordering.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/common/imgxfer-image-lock.h"
#include "drivers/common/imgxfer-local-io.h"
#include "drivers/common/imgxfer-write-behind.h"
#include "imgxfer-file-backend.h"

/* Extents found per call; the caller asks again for the rest. */
#define MAX_EXTENTS_PER_CALL 1024

/* Direct I/O: the alignment that suits every common device and file
 * system, and the size of the bounce buffer for unaligned memory. */
#define DIRECT_ALIGNMENT 4096
#define BOUNCE_SIZE (1024 * 1024)

struct _ImgxferFileBackend
{
  ImgxferBackend parent_instance;

  char *path;
  int fd;
  gboolean is_block_device;
  gboolean is_regular;
  guint64 file_bytes;     /* a regular file's st_size, when last seen */
  gboolean is_stream;     /* a pipe or a character device */
  guint64 stream_offset;  /* where the next write must start */

  /* Direct I/O only: offsets, lengths and buffers must be multiples of
   * this; 0 when the page cache is used. */
  guint32 alignment;
  void *bounce; /* BOUNCE_SIZE bytes, aligned, allocated on first use */

  /* Read-only files: the last data range SEEK_HOLE found, whole. */
  guint64 data_start;
  guint64 data_end;

  /* Writes through the page cache are written back as they come. */
  ImgxferWriteBehind write_behind;

  /* Writable files and devices: qemu's locks, taken by the first
   * connection and shared by its clones. */
  ImgxferImageLock *lock;
};

/* "file:///a/b", "FILE:///a/b" and "/a/b" all name /a/b. */
static char *
path_from_url (const char *url, GError **error)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, error);

  return parsed ? imgxfer_url_get_local_path (parsed, error) : NULL;
}

static gboolean
file_size (ImgxferFileBackend *self, guint64 *size, GError **error)
{
  struct stat st;

  if (fstat (self->fd, &st) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "stat", 0);

  if (S_ISREG (st.st_mode))
    {
      self->is_regular = TRUE;
      self->file_bytes = st.st_size;
      *size = _imgxfer_sector_round_up (st.st_size);
      return TRUE;
    }

  if (S_ISBLK (st.st_mode))
    {
      int sector_size = 0;

      self->is_block_device = TRUE;
      if (ioctl (self->fd, BLKGETSIZE64, size) < 0)
        return _imgxfer_set_errno_error (error, errno, self->path,
                                         "BLKGETSIZE64", 0);
      /* A device with large logical sectors needs larger alignment. */
      if (self->alignment
          && ioctl (self->fd, BLKSSZGET, &sector_size) == 0
          && (guint32)sector_size > self->alignment)
        self->alignment = sector_size;
      return TRUE;
    }

  if (self->is_stream)
    {
      /* Any source fits: the reader decides where the stream ends. */
      *size = G_MAXINT64;
      return TRUE;
    }

  /* A source has a size to copy; a stream has none. */
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: not a regular file or a block device%s", self->path,
               S_ISFIFO (st.st_mode)  ? " (a pipe can only be written to)"
               : S_ISCHR (st.st_mode) ? " (a character device can only be "
                                        "written to)"
                                      : "");
  return FALSE;
}

/* Opened for writing, a pipe or a character device is a stream. */
static gboolean
is_stream_path (const char *path, gboolean writable)
{
  struct stat st;

  return writable && stat (path, &st) == 0
         && (S_ISFIFO (st.st_mode) || S_ISCHR (st.st_mode));
}

static gboolean
open_fd (ImgxferFileBackend *self,
         gboolean writable,
         gboolean direct,
         GError **error)
{
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;

  /* Write only, so that a pipe without a reader fails (EPIPE) instead of
   * filling up; opening waits for a reader, like a shell redirection. */
  self->is_stream = is_stream_path (self->path, writable);
  if (self->is_stream)
    {
      flags = O_WRONLY | O_CLOEXEC;
      direct = FALSE;
    }

  self->fd = _imgxfer_local_open (self->path,
                                  flags | (direct ? O_DIRECT : 0), error);
  if (self->fd < 0)
    return FALSE;
  self->alignment = direct ? DIRECT_ALIGNMENT : 0;
  return TRUE;
}

static gboolean
imgxfer_file_backend_open (ImgxferBackend *backend,
                           GCancellable *cancellable,
                           GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  gboolean writable = imgxfer_open_options_get_writable (options);
  gboolean direct = imgxfer_open_options_get_direct (options);
  ImgxferBackendCaps caps = IMGXFER_BACKEND_CAN_ZERO
                            | IMGXFER_BACKEND_CAN_FLUSH;
  guint64 size;

  self->path = path_from_url (imgxfer_backend_get_url (backend), error);
  if (self->path == NULL)
    return FALSE;

  if (!open_fd (self, writable, direct, error))
    return FALSE;
  self->write_behind.off = self->is_stream || self->alignment;

  if (!file_size (self, &size, error))
    return FALSE;
  if (writable && !self->is_stream && self->lock == NULL)
    {
      self->lock = _imgxfer_image_lock_for_write (self->fd, self->path, error);
      if (self->lock == NULL)
        return FALSE;
    }

  if (writable)
    caps |= IMGXFER_BACKEND_CAN_WRITE;
  if (!self->is_block_device)
    caps |= IMGXFER_BACKEND_CAN_EXTENTS;
  if (self->is_stream)
    caps = IMGXFER_BACKEND_CAN_WRITE; /* zeroes are written as data */

  imgxfer_backend_set_size (backend, size);
  imgxfer_backend_set_caps (backend, caps);
  /* Unaligned requests still work in direct mode, only slower. */
  imgxfer_backend_set_block_sizes (backend, 1,
                                   MAX (self->alignment, 4096), 0);
  /* Every clone has its own descriptor; the kernel takes them all. A
   * stream has one writer, in order. */
  imgxfer_backend_set_max_connections (backend, self->is_stream ? 1 : 16);
  return TRUE;
}

/* A clone is another descriptor under the locks of the first: taking
 * them again would find the first's and refuse. */
static ImgxferBackend *
imgxfer_file_backend_clone (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);
  g_autoptr (ImgxferFileBackend) clone = NULL;

  clone = g_object_new (IMGXFER_TYPE_FILE_BACKEND, "url",
                        imgxfer_backend_get_url (backend), "options",
                        imgxfer_backend_get_options (backend), NULL);
  clone->lock = self->lock ? _imgxfer_image_lock_ref (self->lock) : NULL;
  if (!g_initable_init (G_INITABLE (clone), cancellable, error))
    return NULL;
  return IMGXFER_BACKEND (g_steal_pointer (&clone));
}

static gboolean
imgxfer_file_backend_get_local_file (ImgxferBackend *backend,
                                     char **path,
                                     guint64 *offset,
                                     guint64 *size)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);

  if (self->is_stream)
    return FALSE;
  if (path)
    *path = g_strdup (self->path);
  if (offset)
    *offset = 0;
  if (size)
    *size = self->is_regular ? self->file_bytes
                             : imgxfer_backend_get_size (backend);
  return TRUE;
}

/* Reads or writes all of @length bytes at @offset. */
static gboolean
do_io (ImgxferFileBackend *self,
       gboolean writing,
       void *buffer,
       gsize length,
       guint64 offset,
       GError **error)
{
  return _imgxfer_local_pio (self->fd, self->path, writing, buffer, length,
                             offset, error);
}

static gboolean
set_direct (ImgxferFileBackend *self, gboolean direct, GError **error)
{
  int flags = fcntl (self->fd, F_GETFL);

  if (flags < 0
      || fcntl (self->fd, F_SETFL,
                direct ? flags | O_DIRECT : flags & ~O_DIRECT) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path,
                                     "fcntl O_DIRECT", 0);
  return TRUE;
}

/* The page cache is bypassed whenever the request allows it. */
static gboolean
do_direct_io (ImgxferFileBackend *self,
              gboolean writing,
              void *buffer,
              gsize length,
              guint64 offset,
              GError **error)
{
  guint32 mask = self->alignment - 1;
  guint8 *p = buffer;

  if ((offset & mask) || (length & mask))
    {
      gboolean ok;

      if (!set_direct (self, FALSE, error))
        return FALSE;
      ok = do_io (self, writing, buffer, length, offset, error);
      return set_direct (self, TRUE, ok ? error : NULL) && ok;
    }

  if (((guintptr)buffer & mask) == 0)
    return do_io (self, writing, buffer, length, offset, error);

  if (self->bounce == NULL)
    self->bounce = g_aligned_alloc (1, BOUNCE_SIZE, self->alignment);

  while (length > 0)
    {
      gsize n = MIN (length, BOUNCE_SIZE);

      if (writing)
        memcpy (self->bounce, p, n);
      if (!do_io (self, writing, self->bounce, n, offset, error))
        return FALSE;
      if (!writing)
        memcpy (p, self->bounce, n);
      p += n;
      offset += n;
      length -= n;
    }
  return TRUE;
}

/* A stream has no offsets: each write continues the previous one. */
static gboolean
stream_io (ImgxferFileBackend *self,
           gboolean writing,
           const guint8 *buffer,
           gsize length,
           guint64 offset,
           GError **error)
{
  if (!writing)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: a pipe or character device cannot be read back",
                   self->path);
      return FALSE;
    }
  if (offset != self->stream_offset)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: a pipe or character device is written in order: "
                   "write at offset %" G_GUINT64_FORMAT ", expected %"
                   G_GUINT64_FORMAT, self->path, offset,
                   self->stream_offset);
      return FALSE;
    }

  while (length > 0)
    {
      ssize_t n = write (self->fd, buffer, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return _imgxfer_set_errno_error (error, errno, self->path, "write",
                                self->stream_offset);
      buffer += n;
      length -= n;
      self->stream_offset += n;
    }
  return TRUE;
}

static gboolean
file_io (ImgxferFileBackend *self,
         gboolean writing,
         void *buffer,
         gsize length,
         guint64 offset,
         GError **error)
{
  if (self->is_stream)
    return stream_io (self, writing, buffer, length, offset, error);
  if (self->alignment)
    return do_direct_io (self, writing, buffer, length, offset, error);
  return do_io (self, writing, buffer, length, offset, error);
}

/* A read reaching past the bytes of a regular file: the file may have
 * grown through a writer since. Only its last sector's tail reads as
 * zeroes; a read past the end of a file that shrank below that fails as
 * a short read, never as zeroes. */
static gboolean
clip_to_file (ImgxferFileBackend *self,
              void *buffer,
              gsize *length,
              guint64 offset,
              GError **error)
{
  guint64 size, last_sector;
  struct stat st;

  if (!self->is_regular || offset + *length <= self->file_bytes)
    return TRUE;
  size = imgxfer_backend_get_size (IMGXFER_BACKEND (self));
  last_sector = size - MIN (size, IMGXFER_SECTOR_SIZE);
  if (fstat (self->fd, &st) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "stat",
                                     offset);
  self->file_bytes = st.st_size;
  *length = _imgxfer_clip_read (buffer, *length, offset,
                                MAX (self->file_bytes, last_sector));
  return TRUE;
}

static gboolean
imgxfer_file_backend_pread (ImgxferSource *source,
                            void *buffer,
                            gsize length,
                            guint64 offset,
                            GCancellable *cancellable,
                            GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (source);

  return clip_to_file (self, buffer, &length, offset, error)
         && (length == 0
             || file_io (self, FALSE, buffer, length, offset, error));
}

/* Appends the extents from @offset, stopping at @end or after
 * MAX_EXTENTS_PER_CALL. */
static gboolean
imgxfer_file_backend_extents (ImgxferSource *source,
                              ImgxferExtentContext context,
                              guint64 offset,
                              guint64 length,
                              GArray *extents,
                              GCancellable *cancellable,
                              GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (source);
  guint64 end = offset + length;
  /* SEEK_HOLE on tmpfs walks the page cache up to the next hole, the end
   * of a fully allocated file: asked again for each unit of the copy, that
   * made 10% of a 2 GiB raw copy's time. The data range found is kept and
   * reused when the file cannot change through this backend; a range
   * reported as data stays correct even if it became a hole since. */
  gboolean keep = !(imgxfer_backend_get_caps (IMGXFER_BACKEND (self))
                    & IMGXFER_BACKEND_CAN_WRITE);

  while (offset < end && extents->len < MAX_EXTENTS_PER_CALL)
    {
      off_t data, hole;

      if (keep && offset >= self->data_start && offset < self->data_end)
        {
          hole = MIN (self->data_end, end);
          imgxfer_extents_append (extents, offset, hole - offset,
                                  IMGXFER_EXTENT_DATA);
          offset = hole;
          continue;
        }

      data = lseek (self->fd, offset, SEEK_DATA);
      if (data < 0 && errno == ENXIO)
        data = end; /* Only a hole until the end of the file. */
      else if (data < 0)
        return _imgxfer_set_errno_error (error, errno, self->path, "SEEK_DATA",
                                         offset);

      data = MIN ((guint64)data, end);
      imgxfer_extents_append (extents, offset, data - offset,
                              IMGXFER_EXTENT_ZERO);
      if ((guint64)data >= end)
        break;

      hole = lseek (self->fd, data, SEEK_HOLE);
      if (hole < 0)
        return _imgxfer_set_errno_error (error, errno, self->path, "SEEK_HOLE",
                                         data);

      self->data_start = data;
      self->data_end = hole;
      hole = MIN ((guint64)hole, end);
      imgxfer_extents_append (extents, data, hole - data,
                              IMGXFER_EXTENT_DATA);
      offset = hole;
    }
  return TRUE;
}

static gboolean
imgxfer_file_backend_pwrite (ImgxferDestination *destination,
                             const void *buffer,
                             gsize length,
                             guint64 offset,
                             GCancellable *cancellable,
                             GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (destination);

  /* A write only reads the buffer. */
  return file_io (self, TRUE, (void *)buffer, length, offset, error)
         && _imgxfer_write_behind_add (&self->write_behind, self->fd,
                                       self->path, offset, length, error);
}

static gboolean
zero_block_device (ImgxferFileBackend *self,
                   guint64 offset,
                   guint64 length,
                   GError **error)
{
  guint64 range[2] = { offset, length };

  if (ioctl (self->fd, BLKZEROOUT, range) == 0)
    return TRUE;
  if (_imgxfer_errno_is_not_supported (errno))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: BLKZEROOUT not supported", self->path);
      return FALSE;
    }
  return _imgxfer_set_errno_error (error, errno, self->path, "BLKZEROOUT",
                                   offset);
}

static gboolean
imgxfer_file_backend_zero (ImgxferDestination *destination,
                           guint64 offset,
                           guint64 length,
                           ImgxferZeroFlags flags,
                           GCancellable *cancellable,
                           GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (destination);

  if (self->is_block_device)
    return zero_block_device (self, offset, length, error);
  return _imgxfer_local_zero (self->fd, self->path, offset, length,
                              (flags & IMGXFER_ZERO_MAY_TRIM) != 0, error);
}

static gboolean
imgxfer_file_backend_flush (ImgxferDestination *destination,
                            GCancellable *cancellable,
                            GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (destination);

  if (fdatasync (self->fd) < 0)
    return _imgxfer_set_errno_error (error, errno, self->path, "flush", 0);
  return TRUE;
}

/* close() can report a write-back error (NFS) that nothing else would. */
static gboolean
imgxfer_file_backend_close (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);
  int fd = self->fd;

  self->fd = -1;
  /* qemu may use the image again once the last connection is closed. */
  g_clear_pointer (&self->lock, _imgxfer_image_lock_unref);
  if (fd >= 0 && close (fd) < 0 && errno != EINTR)
    return _imgxfer_set_errno_error (error, errno, self->path, "close", 0);
  return TRUE;
}

static void
imgxfer_file_backend_release (ImgxferBackend *backend)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);

  g_free (self->path);
  g_aligned_free (self->bounce);
  g_clear_pointer (&self->lock, _imgxfer_image_lock_unref);
}

static void
imgxfer_file_backend_instance_init (ImgxferBackend *backend)
{
  ImgxferFileBackend *self = IMGXFER_FILE_BACKEND (backend);

  self->fd = -1;
}

static const char *const file_schemes[] = { "", "file", NULL };

static const ImgxferDriverSpec file_driver = {
  .name = "file",
  .description = "Local files and block devices",
  .schemes = file_schemes,
  .init = imgxfer_file_backend_instance_init,
  .finalize = imgxfer_file_backend_release,
  .open = imgxfer_file_backend_open,
  .clone = imgxfer_file_backend_clone,
  .get_local_file = imgxfer_file_backend_get_local_file,
  .close = imgxfer_file_backend_close,
  .create = _imgxfer_file_create,
  .info = _imgxfer_file_info,
  .pread = imgxfer_file_backend_pread,
  .extents = imgxfer_file_backend_extents,
  .pwrite = imgxfer_file_backend_pwrite,
  .zero = imgxfer_file_backend_zero,
  .flush = imgxfer_file_backend_flush,
};

IMGXFER_DEFINE_DRIVER (ImgxferFileBackend, imgxfer_file_backend, &file_driver)
