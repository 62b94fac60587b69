/* imgxfer-image-lock.c: qemu's image locks
 *
 * qemu (block/file-posix.c) takes open file description (OFD) locks on
 * single bytes of every image file it opens: a shared lock on byte
 * 100 + N for each permission N it holds, and on byte 200 + N for each
 * permission it does not let others hold. The permissions are bits:
 * 0 "consistent read", 1 "write", 2 "write unchanged", 3 "resize". A user
 * that wants permission N first tests byte 200 + N; one that forbids N
 * tests byte 100 + N. As checked with qemu 7.2: `qemu-nbd -t` on a raw
 * file holds 100 and 101 and forbids resize (203); read only, it holds
 * 100 alone.
 *
 * A writer here does what `qemu-img convert` does for its target: it
 * holds consistent read, write and resize, and forbids write and resize
 * to others. So a running machine or qemu-nbd writing the image makes us
 * refuse it, and while we write, qemu refuses to open it for writing
 * (and, without -U / force-share, for reading, as it would for any image
 * being written). Readers do not lock: a copy's source may be an image
 * qemu reads or serves, as qemu's own readers share it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-image-lock.h"

#define PERM_BASE 100
#define SHARED_BASE 200

enum
{
  PERM_CONSISTENT_READ = 1 << 0,
  PERM_WRITE = 1 << 1,
  PERM_WRITE_UNCHANGED = 1 << 2,
  PERM_RESIZE = 1 << 3,
  N_PERMS = 4,
};

static const char *const perm_names[N_PERMS]
    = { "consistent read", "write", "write unchanged", "resize" };

#define WRITER_PERMS (PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE)
#define WRITER_SHARED (PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED)

struct _ImgxferImageLock
{
  gatomicrefcount ref;
  int fd; /* a duplicate: the locks belong to its open file description */
};

static int
lock_byte (int fd, int command, short type, off_t offset)
{
  struct flock fl = {
    .l_type = type,
    .l_whence = SEEK_SET,
    .l_start = offset,
    .l_len = 1,
  };

  if (fcntl (fd, command, &fl) < 0)
    return -errno;
  /* F_OFD_GETLK says whether a lock of @type could be taken. */
  return command == F_OFD_GETLK && fl.l_type != F_UNLCK ? -EAGAIN : 0;
}

/* The bytes of the permissions held and of those forbidden to others. */
static gboolean
apply (int fd, const char *path, GError **error)
{
  for (int i = 0; i < N_PERMS; i++)
    {
      int err = 0;

      if (WRITER_PERMS & (1 << i))
        err = lock_byte (fd, F_OFD_SETLK, F_RDLCK, PERM_BASE + i);
      if (err == 0 && !(WRITER_SHARED & (1 << i)))
        err = lock_byte (fd, F_OFD_SETLK, F_RDLCK, SHARED_BASE + i);
      if (err == -EAGAIN || err == -EACCES)
        break; /* someone's write lock: the check below names it */
      if (err < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-err),
                       "%s: cannot lock the image: %s", path,
                       g_strerror (-err));
          return FALSE;
        }
    }
  return TRUE;
}

/* Tested after taking ours, as qemu does, so that of two writers starting
 * at once neither goes on unseen by the other. */
static gboolean
check (int fd, const char *path, GError **error)
{
  for (int i = 0; i < N_PERMS; i++)
    {
      if ((WRITER_PERMS & (1 << i))
          && lock_byte (fd, F_OFD_GETLK, F_WRLCK, SHARED_BASE + i) != 0)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_IN_USE,
                       "%s: the image is in use: another process (a "
                       "virtual machine, qemu-nbd) does not allow "
                       "\"%s\" to others",
                       path, perm_names[i]);
          return FALSE;
        }
      if (!(WRITER_SHARED & (1 << i))
          && lock_byte (fd, F_OFD_GETLK, F_WRLCK, PERM_BASE + i) != 0)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_IN_USE,
                       "%s: the image is in use: another process (a "
                       "virtual machine, qemu-nbd) has it open for \"%s\"",
                       path, perm_names[i]);
          return FALSE;
        }
    }
  return TRUE;
}

ImgxferImageLock *
_imgxfer_image_lock_for_write (int fd, const char *path, GError **error)
{
  g_autoptr (ImgxferImageLock) lock = g_new0 (ImgxferImageLock, 1);

  g_atomic_ref_count_init (&lock->ref);
  lock->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (lock->fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot lock the image: %s", path,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (!apply (lock->fd, path, error) || !check (lock->fd, path, error))
    return NULL;
  return g_steal_pointer (&lock);
}

ImgxferImageLock *
_imgxfer_image_lock_ref (ImgxferImageLock *lock)
{
  g_atomic_ref_count_inc (&lock->ref);
  return lock;
}

void
_imgxfer_image_lock_unref (ImgxferImageLock *lock)
{
  if (!g_atomic_ref_count_dec (&lock->ref))
    return;
  /* Closing the last descriptor of the description drops its locks. */
  if (lock->fd >= 0)
    close (lock->fd);
  g_free (lock);
}
