/* qemu-driver.c: qemu image formats through a private qemu-nbd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "drivers/qemu/imgxfer-qemu-img.h"
#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER (64 * KiB)

typedef struct
{
  char *dir;
  char *base;
  char *top;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_tmpdir_new ();
  fixture->base = g_build_filename (fixture->dir, "base.qcow2", NULL);
  fixture->top = g_build_filename (fixture->dir, "top.qcow2", NULL);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_free (fixture->base);
  g_free (fixture->top);
  test_tmpdir_free (fixture->dir);
}

/* Writes as imageio's tests do through qemu_nbd.open(): data, then zero. */
static void
qemu_io_write_and_zero (const char *path, guint64 data_offset,
                        guint64 zero_offset)
{
  g_autofree char *write = g_strdup_printf (
      "write -P 0x41 %" G_GUINT64_FORMAT " 64k", data_offset);
  g_autofree char *zero
      = g_strdup_printf ("write -z %" G_GUINT64_FORMAT " 64k", zero_offset);
  const char *const commands[] = { write, zero, NULL };

  test_qemu_io (path, "qcow2", commands);
}

static ImgxferBackend *
open_image (const char *path, const char *format, gboolean writable,
            gboolean shallow, const char *bitmap, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, format);
  imgxfer_open_options_set_writable (options, writable);
  imgxfer_open_options_set_shallow (options, shallow);
  imgxfer_open_options_set_bitmap (options, bitmap);
  return imgxfer_open (path, options, NULL, error);
}

/* Opens @path (probing its format when @format is %NULL) and asserts
 * all its extents in @context. */
static void
assert_image_extents (const char *path, const char *format, gboolean shallow,
                      const char *bitmap, ImgxferExtentContext context,
                      const ImgxferExtent *expected, guint n_expected)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;

  backend = open_image (path, format, FALSE, shallow, bitmap, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (backend), ==, "ImgxferQemuBackend");
  extents = test_all_extents (backend, context);
  test_assert_extents (extents, expected, n_expected);
}

/* ovirt-imageio's two-layer test chain: base has data in cluster 0 and zero in
 * cluster 1; top has data in cluster 3 and zero in cluster 4. */
static void
make_chain (const char *base, const char *top, gboolean with_bitmap)
{
  const char *add_bitmap_base[]
      = { "qemu-img", "bitmap", "--add", base, "b0", NULL };
  const char *add_bitmap_top[]
      = { "qemu-img", "bitmap", "--add", top, "b0", NULL };

  test_qemu_img_create (base, "qcow2", with_bitmap ? "1M" : "10M", NULL,
                        NULL);
  if (with_bitmap)
    test_run_ok (add_bitmap_base);
  qemu_io_write_and_zero (base, 0 * CLUSTER, 1 * CLUSTER);

  test_qemu_img_create (top, "qcow2", NULL, base, "qcow2");
  if (with_bitmap)
    test_run_ok (add_bitmap_top);
  qemu_io_write_and_zero (top, 3 * CLUSTER, 4 * CLUSTER);
}

#define ZERO IMGXFER_EXTENT_ZERO
#define HOLE IMGXFER_EXTENT_HOLE
#define DIRTY IMGXFER_EXTENT_DIRTY

/* imageio's test_zero_extents_qcow2: holes only where the chain has no
 * allocation (allocation-depth 0), zero from base:allocation. */
static void
test_extents_qcow2_chain (Fixture *fixture, gconstpointer data)
{
  const ImgxferExtent expected[] = {
    { 0 * CLUSTER, CLUSTER, 0 },
    { 1 * CLUSTER, CLUSTER, ZERO },
    { 2 * CLUSTER, CLUSTER, ZERO | HOLE },
    { 3 * CLUSTER, CLUSTER, 0 },
    { 4 * CLUSTER, CLUSTER, ZERO },
    { 5 * CLUSTER, 10 * MiB - 5 * CLUSTER, ZERO | HOLE },
  };

  make_chain (fixture->base, fixture->top, FALSE);
  /* Probed, as ovirt-imageio's client.extents(top) does. */
  assert_image_extents (fixture->top, NULL, FALSE, NULL,
                        IMGXFER_EXTENT_CONTEXT_ZERO, expected,
                        G_N_ELEMENTS (expected));
}

/* imageio's test_dirty_extents: dirty from the image's own bitmap, zero
 * from the whole chain, merged into runs where both agree. */
static void
test_extents_dirty (Fixture *fixture, gconstpointer data)
{
  const ImgxferExtent expected_base[] = {
    { 0 * CLUSTER, CLUSTER, DIRTY },
    { 1 * CLUSTER, CLUSTER, DIRTY | ZERO },
    { 2 * CLUSTER, 1 * MiB - 2 * CLUSTER, ZERO },
  };
  const ImgxferExtent expected_top[] = {
    { 0 * CLUSTER, CLUSTER, 0 },
    { 1 * CLUSTER, 2 * CLUSTER, ZERO },
    { 3 * CLUSTER, CLUSTER, DIRTY },
    { 4 * CLUSTER, CLUSTER, DIRTY | ZERO },
    { 5 * CLUSTER, 1 * MiB - 5 * CLUSTER, ZERO },
  };

  make_chain (fixture->base, fixture->top, TRUE);
  assert_image_extents (fixture->base, "qcow2", FALSE, "b0",
                        IMGXFER_EXTENT_CONTEXT_DIRTY, expected_base,
                        G_N_ELEMENTS (expected_base));
  assert_image_extents (fixture->top, "qcow2", FALSE, "b0",
                        IMGXFER_EXTENT_CONTEXT_DIRTY, expected_top,
                        G_N_ELEMENTS (expected_top));
}

/* A shallow opening shows only the top layer: the rest is holes. */
static void
test_shallow_holes (Fixture *fixture, gconstpointer data)
{
  const ImgxferExtent expected[] = {
    { 0, 3 * CLUSTER, ZERO | HOLE },
    { 3 * CLUSTER, CLUSTER, 0 },
    { 4 * CLUSTER, CLUSTER, ZERO },
    { 5 * CLUSTER, 10 * MiB - 5 * CLUSTER, ZERO | HOLE },
  };

  make_chain (fixture->base, fixture->top, FALSE);
  assert_image_extents (fixture->top, "qcow2", TRUE, NULL,
                        IMGXFER_EXTENT_CONTEXT_ZERO, expected,
                        G_N_ELEMENTS (expected));
}

static void
write_both (ImgxferBackend *backend, const char *reference, guint64 offset,
            gsize length, guint8 byte)
{
  test_backend_fill (backend, offset, length, byte);
  test_write_pattern (reference, offset, length, byte);
}

static void
zero_both (ImgxferBackend *backend, const char *reference, guint64 offset,
           gsize length, ImgxferZeroFlags flags)
{
  g_autoptr (GError) error = NULL;

  imgxfer_destination_zero (IMGXFER_DESTINATION (backend), offset, length,
                            flags, NULL, &error);
  g_assert_no_error (error);
  test_write_pattern (reference, offset, length, 0);
}

static void
assert_same_bytes (ImgxferBackend *backend, const char *reference)
{
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;

  g_file_get_contents (reference, &expected, &size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, size);

  actual = g_malloc (size);
  for (gsize offset = 0; offset < size; offset += 1 * MiB)
    {
      imgxfer_source_pread (IMGXFER_SOURCE (backend), actual + offset,
                            MIN (1 * MiB, size - offset), offset, NULL, &error);
      g_assert_no_error (error);
    }
  g_assert_true (memcmp (actual, expected, size) == 0);
}

/* Writes and zeroes through qemu-nbd into an existing qcow2 land where a
 * raw file puts them, per qemu-img compare and per reading back. */
static void
test_read_write_qcow2 (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autofree char *reference
      = g_build_filename (fixture->dir, "disk.raw", NULL);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;
  guint32 maximum;

  test_qemu_img_create (image, "qcow2", "8M", NULL, NULL);
  imgxfer_open_options_set_writable (options, TRUE);
  imgxfer_open_options_set_format (options, "qcow2");
  backend = imgxfer_open (image, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_backend_get_caps (backend)
                 & IMGXFER_BACKEND_CAN_WRITE);
  imgxfer_backend_get_block_sizes (backend, NULL, NULL, &maximum);
  g_assert_cmpuint (maximum, ==, 32 * MiB);
  g_assert_cmpuint (imgxfer_backend_get_max_connections (backend), ==, 4);
  test_create_sparse (reference, 8 * MiB);

  write_both (backend, reference, 0, 3 * MiB, 'a');
  /* A clone writes through the same qemu-nbd. */
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  write_both (clone, reference, 5 * MiB + 123, 4096, 'b');
  zero_both (backend, reference, 1 * MiB, 64 * KiB, IMGXFER_ZERO_NONE);
  zero_both (clone, reference, 2 * MiB, 512 * KiB, IMGXFER_ZERO_MAY_TRIM);
  write_both (backend, reference, 8 * MiB - 100, 100, 'c');

  imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_flush (IMGXFER_DESTINATION (clone), NULL, &error);
  g_assert_no_error (error);
  assert_same_bytes (clone, reference);
  g_clear_object (&backend);
  g_clear_object (&clone);

  test_assert_images_equal (image, "qcow2", reference, "raw", FALSE);

  backend = imgxfer_open (image, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_bytes (backend, reference);

  g_clear_object (&backend);
}

/* Every format the driver claims reads back what qemu-img wrote. */
static void
test_read_formats (Fixture *fixture, gconstpointer data)
{
  g_autofree char *reference = g_build_filename (fixture->dir, "a.raw", NULL);
  g_autoptr (GTypeClass) klass
      = g_type_class_ref (imgxfer_driver_lookup_name ("qemu"));
  const char *const *formats = IMGXFER_BACKEND_CLASS (klass)->formats;

  test_create_sparse (reference, 4 * MiB);
  test_write_pattern (reference, 0, 1 * MiB, 'a');
  test_write_pattern (reference, 3 * MiB - 100, 100, 'b');

  for (; *formats != NULL; formats++)
    {
      g_autofree char *image = g_build_filename (fixture->dir, *formats, NULL);
      /* Without force_size, vpc rounds the size up to a disk geometry. */
      gboolean is_vpc = g_str_equal (*formats, "vpc");
      const char *convert[]
          = { "qemu-img",      "convert", "-f",
              "raw",           "-O",      *formats,
              reference,       image,     is_vpc ? "-o" : NULL,
              "force_size=on", NULL };
      g_autoptr (ImgxferBackend) backend = NULL;
      g_autoptr (GError) error = NULL;

      test_run_ok (convert);
      backend = open_image (image, *formats, FALSE, FALSE, NULL, &error);
      g_assert_no_error (error);
      g_test_message ("%s: %" G_GUINT64_FORMAT " bytes", *formats,
                      imgxfer_backend_get_size (backend));
      assert_same_bytes (backend, reference);
    }
}

/* Zeroing a cluster of the top layer hides the base's data there (a zero
 * cluster, not a hole), even when trimming is allowed. */
static void
test_zero_hides_backing (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  char buffer[4096];
  /* Cluster 0 (zeroed in top) and 1 (zero in base) read alike. */
  const ImgxferExtent expected[] = {
    { 0, 2 * CLUSTER, ZERO },
    { 2 * CLUSTER, CLUSTER, ZERO | HOLE },
    { 3 * CLUSTER, CLUSTER, 0 },
    { 4 * CLUSTER, CLUSTER, ZERO },
    { 5 * CLUSTER, 10 * MiB - 5 * CLUSTER, ZERO | HOLE },
  };

  make_chain (fixture->base, fixture->top, FALSE);
  backend = open_image (fixture->top, "qcow2", TRUE, FALSE, NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_zero (IMGXFER_DESTINATION (backend), 0, CLUSTER,
                            IMGXFER_ZERO_MAY_TRIM, NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&backend);

  backend = open_image (fixture->top, "qcow2", FALSE, FALSE, NULL, &error);
  g_assert_no_error (error);
  imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, sizeof buffer, 0,
                        NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (buffer[0], ==, 0);
  g_assert_cmpint (buffer[sizeof buffer - 1], ==, 0);
  extents = test_all_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO);
  test_assert_extents (extents, expected, G_N_ELEMENTS (expected));

  g_clear_object (&backend);
}

/* imageio's test_zero_extents_from_ova: a qcow2 member of a tar,
 * served from its byte range inside the archive. */
static void
test_extents_tar_member (Fixture *fixture, gconstpointer data)
{
  g_autofree char *disk = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autofree char *ova = g_build_filename (fixture->dir, "vm.ova", NULL);
  const char *tar[]
      = { "tar", "-C", fixture->dir, "-cf", ova, "disk.qcow2", NULL };
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  const ImgxferExtent expected[] = {
    { 0, CLUSTER, 0 },
    { CLUSTER, CLUSTER, ZERO },
    { 2 * CLUSTER, 10 * MiB - 2 * CLUSTER, ZERO | HOLE },
  };

  if (imgxfer_driver_lookup_name ("tar") == G_TYPE_INVALID)
    {
      g_test_skip ("no tar driver");
      return;
    }

  test_qemu_img_create (disk, "qcow2", "10M", NULL, NULL);
  qemu_io_write_and_zero (disk, 0, CLUSTER);
  test_run_ok (tar);

  imgxfer_open_options_set_member (options, "disk.qcow2");
  backend = imgxfer_open (ova, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (backend), ==, "ImgxferQemuBackend");
  extents = test_all_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO);
  test_assert_extents (extents, expected, G_N_ELEMENTS (expected));

  g_clear_object (&backend);
}

/* qemu-nbd's own complaint reaches the caller. */
static void
test_error_not_this_format (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  test_write_pattern (image, 0, 1 * MiB, 'x');
  backend = open_image (image, "qcow2", FALSE, FALSE, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, image));
  g_assert_nonnull (strstr (error->message, "qemu-nbd"));
  g_assert_nonnull (strstr (error->message, "qcow2"));
  g_assert_null (strchr (error->message, '\n'));
}

static void
test_error_missing_backing (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  make_chain (fixture->base, fixture->top, FALSE);
  g_assert_cmpint (g_unlink (fixture->base), ==, 0);

  backend = imgxfer_open (fixture->top, NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, fixture->base));
  g_assert_nonnull (strstr (error->message, "No such file or directory"));
}

static guint64
read_be64 (int fd, guint64 offset)
{
  guint64 value;

  g_assert_cmpint (pread (fd, &value, sizeof value, offset), ==, sizeof value);
  return GUINT64_FROM_BE (value);
}

/* Moves the first data cluster's L2 entry off the cluster alignment, as
 * a damaged image might have it: qemu finds out only when reading. */
static void
corrupt_first_l2_entry (const char *path)
{
  const guint64 offset_mask = G_GUINT64_CONSTANT (0x00fffffffffffe00);
  int fd = g_open (path, O_RDWR, 0);
  guint64 l1, l2, entry;

  g_assert_cmpint (fd, >=, 0);
  l1 = read_be64 (fd, 40); /* l1_table_offset in the header */
  l2 = read_be64 (fd, l1) & offset_mask;
  entry = GUINT64_TO_BE (read_be64 (fd, l2) + 0x200);
  g_assert_cmpint (pwrite (fd, &entry, sizeof entry, l2), ==, sizeof entry);
  g_assert_cmpint (close (fd), ==, 0);
}

/* An I/O error inside qemu-nbd comes with qemu-nbd's explanation. */
static void
test_error_corrupt_image (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  char buffer[4096];

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  qemu_io_write_and_zero (image, 0, CLUSTER);
  corrupt_first_l2_entry (image);

  backend = open_image (image, "qcow2", FALSE, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        sizeof buffer, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, image));
  g_assert_nonnull (strstr (error->message, "read at offset 0"));
  g_assert_nonnull (strstr (error->message, "Image is corrupt"));
}

/* Without qemu-nbd the error says so. */
static void
test_error_no_qemu_nbd (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autofree char *path = g_strdup (g_getenv ("PATH"));

  if (g_test_subprocess ())
    {
      g_autoptr (ImgxferBackend) backend = NULL;
      g_autoptr (GError) error = NULL;

      backend = open_image (g_getenv ("IMGXFER_TEST_IMAGE"), "qcow2", FALSE,
                            FALSE, NULL, &error);
      g_assert_null (backend);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER);
      g_printerr ("%s\n", error->message);
      /* The fixture's teardown runs rm. */
      g_setenv ("PATH", g_getenv ("IMGXFER_TEST_PATH"), TRUE);
      return;
    }

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  g_setenv ("IMGXFER_TEST_IMAGE", image, TRUE);
  g_setenv ("IMGXFER_TEST_PATH", path, TRUE);
  g_setenv ("PATH", fixture->dir, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, 0);
  g_setenv ("PATH", path, TRUE);
  g_unsetenv ("IMGXFER_TEST_PATH");
  g_unsetenv ("IMGXFER_TEST_IMAGE");
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*cannot start qemu-nbd*qemu-nbd*");
}

/* One qemu-nbd serves a backend and its clones; it is gone with the last
 * of them. */
static void
test_clones_share_server (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GPtrArray) clones
      = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  backend = open_image (image, "qcow2", FALSE, FALSE, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < imgxfer_backend_get_max_connections (backend); i++)
    {
      ImgxferBackend *clone = imgxfer_backend_clone (backend, NULL, &error);

      g_assert_no_error (error);
      g_ptr_array_add (clones, clone);
    }
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 1);

  g_clear_object (&backend);
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 1);
  g_ptr_array_set_size (clones, 0);
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
}

/* If imgxfer is killed outright, its qemu-nbd does not outlive it, even
 * when it was started from a thread that blocks every signal (as GLib's
 * worker and pool threads do): qemu-nbd must not inherit that mask. */
static void
test_server_dies_with_parent (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autofree char *pid_file = g_build_filename (fixture->dir, "pid", NULL);
  g_autofree char *pid_text = NULL;
  g_autoptr (GError) error = NULL;
  int pid;

  if (g_test_subprocess ())
    {
      g_autoptr (ImgxferBackend) backend = NULL;
      sigset_t all;

      sigfillset (&all);
      pthread_sigmask (SIG_SETMASK, &all, NULL);
      backend = open_image (g_getenv ("IMGXFER_TEST_IMAGE"), "qcow2", FALSE,
                            FALSE, NULL, &error);
      g_assert_no_error (error);
      pid_text = g_strdup_printf ("%d", test_find_child ("qemu-nbd"));
      g_file_set_contents (g_getenv ("IMGXFER_TEST_PID_FILE"), pid_text, -1,
                           &error);
      g_assert_no_error (error);
      raise (SIGKILL);
    }

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  /* The child's directories (its own and qemu-nbd's, which nobody
   * removes after a SIGKILL) land in ours, removed after the test. */
  g_setenv ("TMPDIR", fixture->dir, TRUE);
  g_setenv ("IMGXFER_TEST_IMAGE", image, TRUE);
  g_setenv ("IMGXFER_TEST_PID_FILE", pid_file, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDOUT
                              | G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("IMGXFER_TEST_PID_FILE");
  g_unsetenv ("IMGXFER_TEST_IMAGE");
  g_unsetenv ("TMPDIR");
  g_test_trap_assert_failed ();

  g_file_get_contents (pid_file, &pid_text, NULL, &error);
  g_assert_no_error (error);
  pid = atoi (pid_text);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (test_wait_process_gone (pid, 10));
}

/* Runs qemu-img as info, measure and a first read (qemu-img map) do. */
static void
use_qemu_img (const char *image, GCancellable *cancellable)
{
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (JsonNode) measure = NULL;
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint8 byte;

  info = imgxfer_image_info (image, NULL, cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (
      json_object_get_string_member (json_node_get_object (info), "format"), ==,
      "qcow2");
  measure = imgxfer_image_measure (image, NULL, "raw", cancellable, &error);
  g_assert_no_error (error);
  g_assert_nonnull (measure);
  backend = open_image (image, "qcow2", FALSE, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), &byte, 1, 0,
                                       cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpint (byte, ==, 0x41);
}

/* Whether a thread of GLib's pool (named "pool-...") ever started. */
static gboolean
pool_thread_started (void)
{
  g_autoptr (GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  g_assert_nonnull (tasks);
  while ((tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path
          = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree char *name = NULL;

      if (g_file_get_contents (path, &name, NULL, NULL)
          && g_str_has_prefix (name, "pool"))
        return TRUE;
    }
  return FALSE;
}

/* qemu-img's output is read without GLib's thread pool: with a
 * cancellable, g_subprocess_communicate() closed the pipes there and
 * wrote into a freed main context when a pool thread dropped it last
 * (GLib 2.74), which hung imgxfer or made a pool thread abort on exit.
 * A fresh process, so that no earlier test has started the pool. */
static void
test_qemu_img_no_thread_pool (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);

  if (g_test_subprocess ())
    {
      g_autoptr (GCancellable) cancellable = g_cancellable_new ();

      use_qemu_img (g_getenv ("IMGXFER_TEST_IMAGE"), cancellable);
      g_assert_false (pool_thread_started ());
      return;
    }

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  qemu_io_write_and_zero (image, 0, CLUSTER);
  g_setenv ("IMGXFER_TEST_IMAGE", image, TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("IMGXFER_TEST_IMAGE");
  g_test_trap_assert_passed ();
}

#define STRESS_THREADS 4
#define STRESS_ROUNDS 10

typedef struct
{
  const char *image;
  GCancellable *cancellable;
} StressJob;

static gpointer
stress_qemu_img (gpointer data)
{
  const StressJob *job = data;

  for (guint i = 0; i < STRESS_ROUNDS; i++)
    use_qemu_img (job->image, job->cancellable);
  return NULL;
}

/* As the copy workers of a qcow2 source do (each may be the one that runs
 * qemu-img map), with the one cancellable of a command: qemu-img runs
 * from several threads at once, which then end. */
static void
test_qemu_img_threads (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "disk.qcow2", NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  StressJob job = { image, cancellable };
  GThread *threads[STRESS_THREADS];

  test_qemu_img_create (image, "qcow2", "1M", NULL, NULL);
  qemu_io_write_and_zero (image, 0, CLUSTER);
  for (guint i = 0; i < STRESS_THREADS; i++)
    threads[i] = g_thread_new ("qemu-img", stress_qemu_img, &job);
  for (guint i = 0; i < STRESS_THREADS; i++)
    g_thread_join (threads[i]);
}

/* The pipes and files in memory open: what running qemu-img opens.
 * GLib's own eventfds come and go with its main contexts. */
static guint
count_child_fds (void)
{
  g_autoptr (GPtrArray) targets = test_fd_targets (getpid ());
  guint count = 0;

  for (guint i = 0; i < targets->len; i++)
    if (g_str_has_prefix (targets->pdata[i], "pipe:")
        || g_str_has_prefix (targets->pdata[i], "/memfd:"))
      count++;
  return count;
}

/* Once a child's are closed: GLib closes its pipes when it has seen it
 * exit, in its own thread, a moment after the call that waited for it. */
static guint
count_child_fds_settled (void)
{
  guint count = count_child_fds ();

  for (guint i = 0; i < 100; i++)
    {
      guint again;

      g_usleep (G_USEC_PER_SEC / 10);
      again = count_child_fds ();
      if (again == count)
        break;
      count = again;
    }
  return count;
}

static gpointer
cancel_soon (gpointer data)
{
  g_usleep (G_USEC_PER_SEC / 2);
  g_cancellable_cancel (data);
  return NULL;
}

static gboolean
any_line (const char *line, gpointer user_data, GError **error)
{
  return TRUE;
}

/* qemu-img that hangs (an NBD server that never answers) is killed and
 * reaped when the caller cancels, its output read whole (info) or line
 * by line (map), and no descriptor of it stays open. A fresh process, so
 * that any child left would be qemu-img's. */
static void
test_qemu_img_cancelled (Fixture *fixture, gconstpointer data)
{
  gboolean by_line = GPOINTER_TO_INT (data);
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocket) silent = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  const char *const version[] = { "--version", NULL };
  GThread *canceller;
  guint fds;
  gint64 start;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC,
                              G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  path = g_build_filename (fixture->dir, "silent.sock", NULL);
  url = g_strdup_printf ("nbd+unix:///?socket=%s", path);
  address = g_unix_socket_address_new (path);
  silent = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (silent, address, FALSE, &error)
                 && g_socket_listen (silent, &error));
  g_assert_no_error (error);
  /* GLib's own descriptors for children are made by the first. */
  g_assert_true (_imgxfer_qemu_img (version, NULL, NULL, &error));
  g_assert_no_error (error);
  fds = count_child_fds_settled ();

  canceller = g_thread_new ("cancel", cancel_soon, cancellable);
  start = g_get_monotonic_time ();
  if (by_line)
    {
      const char *const argv[] = { "map", "--output=json", url, NULL };

      g_assert_false (
          _imgxfer_qemu_img_lines (argv, any_line, NULL, cancellable, &error));
    }
  else
    {
      const char *const argv[] = { "info", "--output=json", url, NULL };

      g_assert_false (_imgxfer_qemu_img (argv, NULL, cancellable, &error));
    }
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  g_assert_cmpint (waitpid (-1, NULL, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);
  g_assert_cmpuint (count_child_fds_settled (), ==, fds);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/qemu-driver/extents/qcow2-chain", test_extents_qcow2_chain);
  ADD ("/qemu-driver/extents/dirty", test_extents_dirty);
  ADD ("/qemu-driver/extents/shallow-holes", test_shallow_holes);
  ADD ("/qemu-driver/extents/tar-member", test_extents_tar_member);
  ADD ("/qemu-driver/io/read-write-qcow2", test_read_write_qcow2);
  ADD ("/qemu-driver/io/read-formats", test_read_formats);
  ADD ("/qemu-driver/io/zero-hides-backing", test_zero_hides_backing);
  ADD ("/qemu-driver/errors/not-this-format", test_error_not_this_format);
  ADD ("/qemu-driver/errors/missing-backing", test_error_missing_backing);
  ADD ("/qemu-driver/errors/corrupt-image", test_error_corrupt_image);
  ADD ("/qemu-driver/errors/no-qemu-nbd", test_error_no_qemu_nbd);
  ADD ("/qemu-driver/server/clones-share-it", test_clones_share_server);
  ADD ("/qemu-driver/server/dies-with-parent", test_server_dies_with_parent);
  ADD ("/qemu-driver/qemu-img/no-thread-pool", test_qemu_img_no_thread_pool);
  ADD ("/qemu-driver/qemu-img/threads", test_qemu_img_threads);
  g_test_add ("/qemu-driver/qemu-img/cancelled", Fixture,
              GINT_TO_POINTER (FALSE), fixture_setup, test_qemu_img_cancelled,
              fixture_teardown);
  g_test_add ("/qemu-driver/qemu-img/cancelled-lines", Fixture,
              GINT_TO_POINTER (TRUE), fixture_setup, test_qemu_img_cancelled,
              fixture_teardown);

  status = g_test_run ();

  /* Every backend stopped its qemu-nbd. */
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
  return status;
}
