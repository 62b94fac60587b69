/* imgxfer-local-io.c: opening, reading and writing local files, for the
 * drivers that serve bytes of local files (file, tar)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-local-io.h"

gboolean
_imgxfer_set_errno_error (GError **error,
                          int saved_errno,
                          const char *path,
                          const char *what,
                          guint64 offset)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s at offset %" G_GUINT64_FORMAT " failed: %s", path,
               what, offset, g_strerror (saved_errno));
  return FALSE;
}

char *
_imgxfer_local_path_for_create (const char *url, GError **error)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, error);
  const char *scheme;

  if (parsed == NULL)
    return NULL;
  scheme = imgxfer_url_get_scheme (parsed);
  if (scheme[0] != '\0' && !g_str_equal (scheme, "file"))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: only local images can be created", url);
      return NULL;
    }
  return imgxfer_url_get_local_path (parsed, error);
}

int
_imgxfer_local_open (const char *path, int flags, GError **error)
{
  int fd = open (path, flags);
  int saved_errno;

  if (fd >= 0)
    return fd;

  saved_errno = errno;
  /* Some file systems (tmpfs before Linux 6.6, FUSE) refuse O_DIRECT at
   * open time with EINVAL; say so rather than "Invalid argument". */
  if ((flags & O_DIRECT) && saved_errno == EINVAL
      && access (path, (flags & O_ACCMODE) == O_RDONLY ? R_OK : W_OK) == 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "Cannot open %s: direct I/O is not supported there", path);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "Cannot open %s: %s", path, g_strerror (saved_errno));
  return -1;
}

gboolean
_imgxfer_local_pio (int fd,
                    const char *path,
                    gboolean writing,
                    void *buffer,
                    gsize length,
                    guint64 offset,
                    GError **error)
{
  const char *what = writing ? "write" : "read";
  guint8 *p = buffer;

  while (length > 0)
    {
      ssize_t n = writing ? pwrite (fd, p, length, offset)
                        : pread (fd, p, length, offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return _imgxfer_set_errno_error (error, errno, path, what, offset);
      if (n == 0 && !writing)
        {
          /* The file shrank under us. */
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ,
                       "%s: unexpected end of file at offset %"
                       G_GUINT64_FORMAT, path, offset);
          return FALSE;
        }
      if (n == 0)
        return _imgxfer_set_errno_error (error, ENOSPC, path, what, offset);
      p += n;
      offset += n;
      length -= n;
    }
  return TRUE;
}

gboolean
_imgxfer_errno_is_not_supported (int err)
{
  return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

/* Punching a hole reads back as zeroes; allocating it again afterwards
 * keeps a preallocated file preallocated. */
static int
punch_hole (int fd, guint64 offset, guint64 length, gboolean keep_allocated)
{
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                 length) < 0)
    return -1;
  if (keep_allocated)
    return fallocate (fd, FALLOC_FL_KEEP_SIZE, offset, length);
  return 0;
}

gboolean
_imgxfer_local_zero (int fd,
                     const char *path,
                     guint64 offset,
                     guint64 length,
                     gboolean may_deallocate,
                     GError **error)
{
  int r;

  if (may_deallocate)
    {
      r = punch_hole (fd, offset, length, FALSE);
      if (r < 0 && _imgxfer_errno_is_not_supported (errno))
        r = fallocate (fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset,
                       length);
    }
  else
    {
      r = fallocate (fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset,
                     length);
      if (r < 0 && _imgxfer_errno_is_not_supported (errno))
        r = punch_hole (fd, offset, length, TRUE);
    }

  if (r == 0)
    return TRUE;
  if (_imgxfer_errno_is_not_supported (errno))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: the file system cannot zero ranges", path);
      return FALSE;
    }
  return _imgxfer_set_errno_error (error, errno, path, "zero", offset);
}

guint64
_imgxfer_sector_round_up (guint64 size)
{
  return (size + IMGXFER_SECTOR_SIZE - 1)
         & ~(guint64)(IMGXFER_SECTOR_SIZE - 1);
}

gsize
_imgxfer_clip_read (void *buffer, gsize length, guint64 offset,
                    guint64 bytes)
{
  gsize stored = offset < bytes ? MIN (length, bytes - offset) : 0;

  memset ((guint8 *)buffer + stored, 0, length - stored);
  return stored;
}
