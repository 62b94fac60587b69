/* fuzz-qcow2.c: a hostile qcow2 image read without qemu
 *
 * The qcow2 driver reads back only the images it made itself; any other
 * qcow2 is opened by qemu, whose `qemu-img map` the qemu driver asks
 * where the data clusters lie, to read them straight from the image
 * file (drivers/qemu/imgxfer-qemu-map.c). The input is such an image,
 * put as an OVA member is: at an offset of a larger file (a memfd), after
 * bytes that are not its own, and ending where the file ends. Whatever
 * its header, L1 and L2 tables say (clusters outside the image, tables
 * pointing at each other or at the header), the map must offer only runs
 * inside the image: each direct read must succeed, which it cannot past
 * the end of the file, and every guest byte is either read directly or
 * left to qemu, in runs that tile the image. What is read directly must
 * be what qemu itself reads there (`qemu-img convert` of the image, when
 * qemu can read it all).
 *
 * Each input runs qemu-img twice: some tens of inputs a second.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drivers/qemu/imgxfer-qemu-bytes.h"
#include "drivers/qemu/imgxfer-qemu-img.h"
#include "drivers/qemu/imgxfer-qemu-map.h"

#include "fuzz.h"

#define SECTOR 512
/* Where the image starts in the file, after bytes of another member. */
#define MEMBER_OFFSET (4 * SECTOR)
/* The guest range looked at: a header may claim petabytes. */
#define MAX_GUEST (16 * 1024 * 1024)
#define READ_CHUNK (1024 * 1024)

/* The files holding the image and qemu's reading of it, made once. */
static int
memfd (int *fd, const char *name)
{
  if (*fd < 0)
    *fd = memfd_create (name, MFD_CLOEXEC);
  g_assert_cmpint (*fd, >=, 0);
  return *fd;
}

static char *
fd_path (int fd)
{
  return g_strdup_printf ("/proc/%d/fd/%d", (int)getpid (), fd);
}

/* The first @length guest bytes as qemu reads them, into a file it
 * writes; -1 when qemu cannot read them all. */
static int
qemu_reading (const char *filename, guint64 length)
{
  static int fd = -1;
  g_autofree char *path = fd_path (memfd (&fd, "fuzz-qcow2-qemu"));
  g_autofree char *count
      = g_strdup_printf ("count=%" G_GUINT64_FORMAT, length / SECTOR);
  g_autofree char *input = g_strconcat ("if=", filename, NULL);
  g_autofree char *output = g_strconcat ("of=", path, NULL);
  const char *argv[] = { "dd",     "-f",  "qcow2", "-O",   "raw",
                         "bs=512", count, input,   output, NULL };

  if (!_imgxfer_qemu_img (argv, NULL, NULL, NULL))
    return -1;
  return fd;
}

/* The input after MEMBER_OFFSET bytes that read as another member's;
 * the file ends with the image. qemu's raw driver takes whole sectors. */
static gsize
write_image (int fd, const uint8_t *data, gsize size)
{
  guint8 other[MEMBER_OFFSET];

  size -= size % SECTOR;
  memset (other, 0xee, sizeof other);
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  g_assert_cmpint (pwrite (fd, other, sizeof other, 0), ==, sizeof other);
  g_assert_cmpint (pwrite (fd, data, size, MEMBER_OFFSET), ==, (gssize)size);
  return size;
}

static guint64
virtual_size (const uint8_t *data)
{
  guint64 size;

  memcpy (&size, data + 24, sizeof size);
  return GUINT64_FROM_BE (size);
}

/* Every run the map offers: contiguous, and those read directly read
 * whole from the image, as qemu read them (@qemu_fd, unless -1). */
static void
read_all (ImgxferQemuMap *map, guint64 end, int qemu_fd)
{
  g_autofree guint8 *buffer = g_malloc (READ_CHUNK);
  g_autofree guint8 *expected = g_malloc (READ_CHUNK);
  guint64 offset = 0;

  while (offset < end)
    {
      gboolean direct;
      gsize length = imgxfer_qemu_map_next_run (
          map, offset, MIN (end - offset, READ_CHUNK), &direct);

      g_assert_cmpuint (length, >, 0);
      g_assert_cmpuint (length, <=, MIN (end - offset, READ_CHUNK));
      if (direct)
        {
          g_autoptr (GError) error = NULL;

          g_assert_true (
              imgxfer_qemu_map_pread (map, buffer, length, offset, &error));
          g_assert_no_error (error);
          if (qemu_fd >= 0)
            {
              g_assert_cmpint (pread (qemu_fd, expected, length, offset), ==,
                               (gssize)length);
              g_assert_cmpmem (buffer, length, expected, length);
            }
        }
      offset += length;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int fd = -1;
  g_autofree char *path = fd_path (memfd (&fd, "fuzz-qcow2"));
  ImgxferLocalBytes bytes = { path, MEMBER_OFFSET, 0, FALSE, 0 };
  g_autofree char *filename = NULL;
  g_autoptr (ImgxferQemuMap) map = NULL;
  guint64 end;

  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  if (size < SECTOR)
    return 0;
  bytes.size = bytes.padded_size = write_image (fd, data, size);
  /* Whole sectors: qemu-img dd copies no less. */
  end = MIN (virtual_size (data), MAX_GUEST) / SECTOR * SECTOR;

  /* Top layer only: a backing file the input names is not opened. */
  filename = _imgxfer_local_bytes_qemu_filename (&bytes, "qcow2", TRUE);
  map = imgxfer_qemu_map_new (&bytes, filename, TRUE);
  imgxfer_qemu_map_load (map, NULL);
  read_all (map, end, end ? qemu_reading (filename, end) : -1);
  return 0;
}
