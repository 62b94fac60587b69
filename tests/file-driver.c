/* file-driver.c: the file driver against real files with real holes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)

static void
test_extents_of_sparse_file (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "sparse.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;

  test_create_sparse (path, 8 * MiB);
  test_write_pattern (path, 2 * MiB, 1 * MiB, 'a');

  backend = test_open (path, FALSE);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 8 * MiB);
  extents = imgxfer_image_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO, NULL,
                                   &error);
  g_assert_no_error (error);

  g_assert_cmpuint (extents->len, ==, 3);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 0).flags, ==,
                    IMGXFER_EXTENT_ZERO);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 1).start, ==,
                    2 * MiB);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 1).length, ==,
                    1 * MiB);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 1).flags, ==,
                    IMGXFER_EXTENT_DATA);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 2).flags, ==,
                    IMGXFER_EXTENT_ZERO);

  test_tmpdir_free (dir);
}

/* Asserts that the extents of [offset, offset + length) are @expected,
 * given as (start, length, flags) triples ending with a 0 length. */
static void
assert_extents (ImgxferBackend *backend, guint64 offset, guint64 length,
                const guint64 *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) extents = NULL;
  guint n = 0;

  extents = imgxfer_source_extents (IMGXFER_SOURCE (backend),
                                    IMGXFER_EXTENT_CONTEXT_ZERO, offset,
                                    length, NULL, &error);
  g_assert_no_error (error);
  for (; expected[3 * n + 1] != 0; n++)
    {
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, n);

      g_assert_cmpuint (n, <, extents->len);
      g_assert_cmpuint (e->start, ==, expected[3 * n]);
      g_assert_cmpuint (e->length, ==, expected[3 * n + 1]);
      g_assert_cmpuint (e->flags, ==, expected[3 * n + 2]);
    }
  g_assert_cmpuint (extents->len, ==, n);
}

/* A read-only file keeps the data range it found last: asking again from
 * inside it, past it, or before it must still find every hole. */
static void
test_extents_asked_again (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "sparse.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  const guint64 D = IMGXFER_EXTENT_DATA, Z = IMGXFER_EXTENT_ZERO;

  test_create_sparse (path, 8 * MiB);
  test_write_pattern (path, 1 * MiB, 2 * MiB, 'a');
  test_write_pattern (path, 5 * MiB, 1 * MiB, 'b');
  backend = test_open (path, FALSE);

  assert_extents (backend, 1 * MiB, 512 * KiB,
                  (const guint64[]){ 1 * MiB, 512 * KiB, D, 0, 0, 0 });
  assert_extents (backend, 2 * MiB, 5 * MiB,
                  (const guint64[]){ 2 * MiB, 1 * MiB, D, 3 * MiB, 2 * MiB, Z,
                                     5 * MiB, 1 * MiB, D, 6 * MiB, 1 * MiB, Z,
                                     0, 0, 0 });
  assert_extents (backend, 0, 8 * MiB,
                  (const guint64[]){ 0, 1 * MiB, Z, 1 * MiB, 2 * MiB, D,
                                     3 * MiB, 2 * MiB, Z, 5 * MiB, 1 * MiB, D,
                                     6 * MiB, 2 * MiB, Z, 0, 0, 0 });
  assert_extents (backend, 5 * MiB + 4 * KiB, 4 * KiB,
                  (const guint64[]){ 5 * MiB + 4 * KiB, 4 * KiB, D, 0, 0, 0 });
  assert_extents (backend, 2 * MiB, 2 * MiB,
                  (const guint64[]){ 2 * MiB, 1 * MiB, D, 3 * MiB, 1 * MiB, Z,
                                     0, 0, 0 });

  test_tmpdir_free (dir);
}

static void
test_missing_file (void)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  backend = imgxfer_open ("/nonexistent/disk.img", NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/disk.img"));
}

static void
test_read_beyond_end (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "small.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  char buffer[4096];

  test_create_sparse (path, 4096);
  backend = test_open (path, FALSE);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        4096, 1, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);

  test_tmpdir_free (dir);
}

static ImgxferBackend *
open_direct (const char *path, gboolean writable)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend;

  imgxfer_open_options_set_writable (options, writable);
  imgxfer_open_options_set_format (options, "raw");
  imgxfer_open_options_set_direct (options, TRUE);
  backend = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);
  return backend;
}

/* The open flags of this process's descriptors on @path, from
 * /proc/self/fdinfo, OR-ed together. */
static int
open_flags_of (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  int flags = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_strconcat ("/proc/self/fd/", name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);
      g_autofree char *info_path = NULL;
      g_autofree char *info = NULL;
      const char *line;

      if (g_strcmp0 (target, path) != 0)
        continue;
      info_path = g_strconcat ("/proc/self/fdinfo/", name, NULL);
      g_assert_true (g_file_get_contents (info_path, &info, NULL, NULL));
      line = strstr (info, "flags:");
      g_assert_nonnull (line);
      flags |= (int)g_ascii_strtoull (line + strlen ("flags:"), NULL, 8);
    }
  return flags;
}

static void
fill_pattern (guint8 *buffer, gsize length, guint64 offset)
{
  for (gsize i = 0; i < length; i++)
    buffer[i] = (offset + i) % 251;
}

/* Direct I/O: the descriptor bypasses the cache; aligned requests from
 * unaligned memory and unaligned requests (the tail of a size that is not
 * a multiple of 4096) both work, and the tail write does not grow the
 * file. */
static void
test_direct_io (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "direct.raw", NULL);
  const gsize size = 3 * 4096 + 100;
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *expected = g_malloc (size);
  g_autofree guint8 *memory = g_malloc (size + 1);
  guint8 *unaligned = memory + 1;
  g_autofree char *contents = NULL;
  gsize length;

  test_create_sparse (path, size);
  backend = open_direct (path, TRUE);
  g_assert_cmpint (open_flags_of (path) & O_DIRECT, ==, O_DIRECT);

  /* Aligned range, unaligned memory: through the bounce buffer. */
  fill_pattern (expected, size, 0);
  memcpy (unaligned, expected, size);
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                             unaligned, 3 * 4096, 0, NULL,
                                             &error));
  g_assert_no_error (error);

  /* The unaligned tail: O_DIRECT is dropped for that request. */
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                             unaligned + 3 * 4096 - 10, 110,
                                             3 * 4096 - 10, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (imgxfer_destination_flush (IMGXFER_DESTINATION (backend),
                                            NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (open_flags_of (path) & O_DIRECT, ==, O_DIRECT);

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpmem (contents, length, expected, size);

  memset (unaligned, 0, size);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), unaligned,
                                       size, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (unaligned, size, expected, size);

  memset (unaligned, 0, size);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), unaligned,
                                       3 * 4096, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (unaligned, 3 * 4096, expected, 3 * 4096);

  memset (unaligned, 0, size);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), unaligned,
                                       5, 4097, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (unaligned, 5, expected + 4097, 5);

  test_tmpdir_free (dir);
}

static void
test_without_direct_io (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "cached.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;

  test_create_sparse (path, 4096);
  backend = test_open (path, TRUE);
  g_assert_cmpint (open_flags_of (path) & O_DIRECT, ==, 0);

  test_tmpdir_free (dir);
}

static guint64
allocated_bytes (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (guint64)st.st_blocks * 512;
}

static void
assert_reads_zero (ImgxferBackend *backend, guint64 offset, gsize length)
{
  g_autofree guint8 *buffer = g_malloc (length);
  g_autofree guint8 *zeroes = g_malloc0 (length);
  g_autoptr (GError) error = NULL;

  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                       length, offset, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, length, zeroes, length);
}

/* Zeroing may deallocate only when allowed, and always reads back as
 * zeroes (never a discard that leaves data). */
static void
test_zero (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "zero.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  test_write_pattern (path, 0, 2 * MiB, 'x');
  backend = test_open (path, TRUE);
  g_assert_cmpuint (allocated_bytes (path), ==, 2 * MiB);

  g_assert_true (imgxfer_destination_zero (IMGXFER_DESTINATION (backend), 0,
                                           1 * MiB, IMGXFER_ZERO_NONE, NULL,
                                           &error));
  g_assert_no_error (error);
  assert_reads_zero (backend, 0, 1 * MiB);
  g_assert_cmpuint (allocated_bytes (path), ==, 2 * MiB);

  g_assert_true (imgxfer_destination_zero (IMGXFER_DESTINATION (backend),
                                           1 * MiB, 1 * MiB,
                                           IMGXFER_ZERO_MAY_TRIM, NULL,
                                           &error));
  g_assert_no_error (error);
  assert_reads_zero (backend, 1 * MiB, 1 * MiB);
  g_assert_cmpuint (allocated_bytes (path), ==, 1 * MiB);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 2 * MiB);

  test_tmpdir_free (dir);
}

/* imgxfer_create() of a raw file: sparse, the right size, known zero. */
static void
test_create_raw (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "new.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  const guint64 size = 5 * MiB + 100;
  const ImgxferBackendCaps expected
      = IMGXFER_BACKEND_IS_ZERO | IMGXFER_BACKEND_CAN_WRITE;

  test_write_pattern (path, 0, 8 * MiB, 'o');
  backend = imgxfer_create (path, NULL, size, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  /* Rounded up to 512, as qemu-img create does. */
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 5 * MiB + 512);
  g_assert_cmpuint (imgxfer_backend_get_caps (backend) & expected, ==,
                    expected);
  g_assert_cmpuint (allocated_bytes (path), ==, 0);

  test_tmpdir_free (dir);
}

static void
test_read_only (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "ro.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  test_create_sparse (path, 4096);
  backend = test_open (path, FALSE);
  g_assert_false (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                              "x", 1, 0, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, path));

  test_tmpdir_free (dir);
}

static void
test_not_a_file (void)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  imgxfer_open_options_set_format (options, "raw");
  backend = imgxfer_open ("/dev/null", options, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "/dev/null"));
}

/* A block device, when this machine can make a loop device: size from
 * BLKGETSIZE64, zeroing with BLKZEROOUT, no holes and never known zero. */
static void
test_block_device (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "backing.raw", NULL);
  const char *attach[] = { "losetup", "--find", "--show", path, NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *device = NULL;
  g_autofree char *err = NULL;

  test_write_pattern (path, 0, 4 * MiB, 'L');
  if (test_run (attach, &device, &err) != 0)
    {
      g_test_skip_printf ("no loop device: %s", err);
      test_tmpdir_free (dir);
      return;
    }
  g_strstrip (device);

  backend = test_open (device, TRUE);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 4 * MiB);
  g_assert_false (imgxfer_backend_get_caps (backend)
                  & (IMGXFER_BACKEND_IS_ZERO | IMGXFER_BACKEND_CAN_EXTENTS));
  g_assert_true (imgxfer_destination_zero (IMGXFER_DESTINATION (backend),
                                           1 * MiB, 1 * MiB,
                                           IMGXFER_ZERO_MAY_TRIM, NULL,
                                           &error));
  g_assert_no_error (error);
  g_assert_true (imgxfer_destination_flush (IMGXFER_DESTINATION (backend),
                                            NULL, &error));
  g_assert_no_error (error);
  assert_reads_zero (backend, 1 * MiB, 1 * MiB);
  g_clear_object (&backend);

  {
    const char *detach[] = { "losetup", "--detach", device, NULL };
    g_autofree char *contents = NULL;
    gsize length;

    g_assert_cmpint (test_run (detach, NULL, NULL), ==, 0);
    g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
    g_assert_cmpuint (length, ==, 4 * MiB);
    g_assert_cmpint (contents[1 * MiB - 1], ==, 'L');
    g_assert_cmpint (contents[1 * MiB], ==, 0);
    g_assert_cmpint (contents[2 * MiB - 1], ==, 0);
    g_assert_cmpint (contents[2 * MiB], ==, 'L');
  }

  test_tmpdir_free (dir);
}

/* How many of the pages of [offset, offset + length) of @path are in the
 * page cache. */
static gsize
cached_pages (const char *path, guint64 offset, gsize length)
{
  gsize page = sysconf (_SC_PAGESIZE);
  gsize n_pages = length / page;
  g_autofree unsigned char *resident = g_malloc (n_pages);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  void *map;
  gsize n = 0;

  g_assert_cmpint (fd, >=, 0);
  map = mmap (NULL, length, PROT_READ, MAP_SHARED, fd, offset);
  g_assert_true (map != MAP_FAILED);
  g_assert_cmpint (mincore (map, length, resident), ==, 0);
  for (gsize i = 0; i < n_pages; i++)
    n += resident[i] & 1;
  munmap (map, length);
  close (fd);
  return n;
}

/* A test folder where writeback means writing to a disk; NULL, with the
 * test skipped, in tmpfs. */
static char *
tmpdir_on_disk (void)
{
  char *dir = test_tmpdir_new ();
  struct statfs fs;

  g_assert_cmpint (statfs (dir, &fs), ==, 0);
  if (fs.f_type != TMPFS_MAGIC)
    return dir;
  g_test_skip ("the test folder is in tmpfs, which has no disk to write to");
  test_tmpdir_free (dir);
  return NULL;
}

/* A file written through the page cache is written back as it goes: the
 * pages of the requests written long enough ago are on disk and out of
 * the cache, the latest ones still in it, and every byte reads back. */
static void
test_write_behind (void)
{
  char *dir = tmpdir_on_disk ();
  g_autofree char *path = NULL;
  g_autofree guint8 *buffer = g_malloc (1 * MiB);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  if (dir == NULL)
    return;
  path = g_build_filename (dir, "written.raw", NULL);

  test_create_sparse (path, 32 * MiB);
  backend = test_open (path, TRUE);
  for (guint i = 0; i < 32; i++)
    {
      memset (buffer, 'a' + i % 26, 1 * MiB);
      g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                                 buffer, 1 * MiB, i * MiB,
                                                 NULL, &error));
      g_assert_no_error (error);
    }

  /* From the second megabyte: valgrind reads the head of every file
   * mapped (is it a program?), which brings its first pages back. */
  g_assert_cmpuint (cached_pages (path, 1 * MiB, 7 * MiB), ==, 0);
  g_assert_cmpuint (cached_pages (path, 31 * MiB, 1 * MiB), >, 0);
  g_assert_true (imgxfer_destination_flush (IMGXFER_DESTINATION (backend),
                                            NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&backend);

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, 32 * MiB);
  for (guint i = 0; i < 32; i++)
    {
      memset (buffer, 'a' + i % 26, 1 * MiB);
      g_assert_cmpmem (contents + i * MiB, 1 * MiB, buffer, 1 * MiB);
    }
  test_tmpdir_free (dir);
}

/* Small writes apart from each other are left in the page cache for the
 * kernel to write back: each would otherwise be a disk request waited
 * for on its own. */
static void
test_write_behind_scattered (void)
{
  char *dir = tmpdir_on_disk ();
  g_autofree char *path = NULL;
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[4096];

  if (dir == NULL)
    return;
  path = g_build_filename (dir, "written.raw", NULL);

  test_create_sparse (path, 4 * MiB);
  backend = test_open (path, TRUE);
  memset (buffer, 'x', sizeof buffer);
  for (guint i = 0; i < 64; i++)
    {
      g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                                 buffer, sizeof buffer,
                                                 i * 64 * 1024, NULL, &error));
      g_assert_no_error (error);
    }

  g_assert_cmpuint (cached_pages (path, 0, 4 * MiB), ==, 64);
  test_tmpdir_free (dir);
}

/* A character device (or a pipe) opened for writing is a stream: written
 * in order only, never read back, nothing but writes. */
static void
test_stream (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("/dev/null", TRUE);
  g_autoptr (GError) error = NULL;
  char buffer[100] = { 0 };

  g_assert_cmpuint (imgxfer_backend_get_caps (backend), ==,
                    IMGXFER_BACKEND_CAN_WRITE);
  g_assert_cmpuint (imgxfer_backend_get_max_connections (backend), ==, 1);
  g_assert_false (imgxfer_backend_get_local_file (backend, NULL, NULL, NULL));

  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                             buffer, 100, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (imgxfer_destination_zero (IMGXFER_DESTINATION (backend),
                                           100, 1 * MiB, IMGXFER_ZERO_NONE,
                                           NULL, &error));
  g_assert_no_error (error);

  g_assert_false (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                              buffer, 100, 0, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "/dev/null"));
  g_clear_error (&error);

  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 10,
                                        0, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
}

/* A file whose size is not a multiple of 512 is seen rounded up: the
 * tail of its last sector reads as zeroes, and as data once a writer
 * fills it; past the end of a file that shrank, a read fails. */
static void
test_unaligned_size (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "odd.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[4096];
  guint8 expected[4096];

  test_create_sparse (path, MiB + 100);
  test_write_pattern (path, MiB, 100, 't');
  backend = test_open (path, FALSE);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, MiB + 512);

  memset (buffer, 'x', sizeof buffer);
  memset (expected, 0, sizeof expected);
  memset (expected, 't', 100);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 512,
                                       MiB, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 512, expected, 512);

  test_write_pattern (path, MiB + 100, 412, 'g');
  memset (expected + 100, 'g', 412);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 512,
                                       MiB, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 512, expected, 512);

  g_clear_object (&backend);
  test_create_sparse (path, MiB + 100);
  backend = test_open (path, FALSE);
  g_assert_cmpint (truncate (path, 512 * KiB), ==, 0);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        4096, MiB - 3584, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ);

  g_clear_object (&backend);
  test_tmpdir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/file-driver/extents/sparse", test_extents_of_sparse_file);
  g_test_add_func ("/file-driver/extents/asked-again",
                   test_extents_asked_again);
  g_test_add_func ("/file-driver/open/missing", test_missing_file);
  g_test_add_func ("/file-driver/read/beyond-end", test_read_beyond_end);
  g_test_add_func ("/file-driver/write/read-only", test_read_only);
  g_test_add_func ("/file-driver/open/not-a-file", test_not_a_file);
  g_test_add_func ("/file-driver/stream/in-order-only", test_stream);
  g_test_add_func ("/file-driver/direct/unaligned", test_direct_io);
  g_test_add_func ("/file-driver/direct/off-by-default",
                   test_without_direct_io);
  g_test_add_func ("/file-driver/zero/trim-only-when-allowed", test_zero);
  g_test_add_func ("/file-driver/create/raw-sparse", test_create_raw);
  g_test_add_func ("/file-driver/block-device/loop", test_block_device);
  g_test_add_func ("/file-driver/write/behind", test_write_behind);
  g_test_add_func ("/file-driver/unaligned-size", test_unaligned_size);
  g_test_add_func ("/file-driver/write/behind-scattered",
                   test_write_behind_scattered);

  return g_test_run ();
}
