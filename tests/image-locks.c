/* image-locks.c: imgxfer honours and takes qemu's image locks
 *
 * A real qemu-nbd holds the images as a running virtual machine would;
 * qemu-nbd and qemu-io try to open images imgxfer is writing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)

/* A qcow2 with 1 MiB of data, the source of the copies. */
static char *
make_source (const char *dir)
{
  char *path = g_build_filename (dir, "top.qcow2", NULL);
  const char *const write[] = { "write -P 0x33 0 1M", NULL };

  test_qemu_img_create (path, "qcow2", "8M", NULL, NULL);
  test_qemu_io (path, "qcow2", write);
  return path;
}

/* qemu-nbd serving the raw image @path writable, as a running machine
 * holds its disk. */
static TestServer *
serve_writable (const char *dir, const char *path)
{
  g_autofree char *socket_path = g_build_filename (dir, "nbd.sock", NULL);
  const char *const argv[]
      = { "qemu-nbd", "-f", "raw", "-t", "-k", socket_path, path, NULL };

  return test_server_start (argv, socket_path);
}

/* `imgxfer convert` into an image a writable qemu-nbd holds: refused as
 * in use, with the image untouched, whether it would be replaced,
 * written into (-n) or replaced by a qcow2. */
static void
test_busy_destination (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *source = make_source (dir);
  g_autofree char *busy = g_build_filename (dir, "busy.raw", NULL);
  g_autoptr (TestServer) server = NULL;
  g_autofree char *before = NULL;
  const char *const create[] = { "convert", source, busy, NULL };
  const char *const existing[] = { "convert", "-n", source, busy, NULL };
  const char *const qcow2[] = { "convert", "-O", "qcow2", source, busy, NULL };
  const char *const *const cases[] = { create, existing, qcow2 };

  test_write_pattern (busy, 0, 8 * MiB, 0x44);
  before = test_file_digest (busy);
  server = serve_writable (dir, busy);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *after = NULL;
      g_autofree char *prefix = g_strdup_printf ("imgxfer: %s: ", busy);

      g_assert_cmpint (test_run_cli (cases[i], NULL, &err), ==, 1);
      g_test_message ("%s", err);
      g_assert_true (g_str_has_prefix (err, prefix));
      g_assert_nonnull (strstr (err, "is in use"));
      g_assert_cmpint (strchr (err, '\n') - err, ==, strlen (err) - 1);
      after = test_file_digest (busy);
      g_assert_cmpstr (after, ==, before);
    }

  /* Creating the image through the library refuses it too, before
   * truncating it. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferBackend) created = imgxfer_create (
          busy, i ? "qcow2" : "raw", 8 * MiB, NULL, NULL, NULL, NULL, &error);
      g_autofree char *after = test_file_digest (busy);

      g_assert_null (created);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_IN_USE);
      g_assert_cmpstr (after, ==, before);
    }

  g_clear_pointer (&server, test_server_stop);
  /* Once qemu-nbd is gone, the same copy goes through. */
  g_assert_cmpint (test_run_cli (create, NULL, NULL), ==, 0);
  test_assert_images_equal (source, "qcow2", busy, "raw", FALSE);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* qemu-nbd and qemu-io try to open @path for writing; both must be
 * refused while imgxfer writes it (or allowed when @allowed). */
static void
assert_qemu_can_write (const char *dir, const char *path, gboolean allowed)
{
  g_autofree char *socket_path = g_build_filename (dir, "other.sock", NULL);
  /* qemu-nbd exits at once when it cannot lock; timeout bounds a qemu-nbd
   * that could and now serves. */
  const char *const nbd[] = { "timeout", "60",        "qemu-nbd", "-f", "raw",
                              "-k",      socket_path, path,       NULL };
  const char *const io[]
      = { "qemu-io", "-f", "raw", "-c", "write 0 512", path, NULL };
  g_autofree char *nbd_err = NULL;
  g_autofree char *io_err = NULL;
  g_autofree char *io_out = NULL;
  int io_status;

  if (allowed)
    {
      /* qemu-nbd itself, without timeout: served, it took the lock. */
      test_server_stop (test_server_start (nbd + 2, socket_path));
      io_status = test_run (io, &io_out, &io_err);
      g_test_message ("qemu-io: %d %s %s", io_status, io_out, io_err);
      g_assert_cmpint (io_status, ==, 0);
      g_assert_null (strstr (io_out, "lock"));
      return;
    }
  g_assert_cmpint (test_run (nbd, NULL, &nbd_err), ==, 1);
  g_assert_nonnull (strstr (nbd_err, "Failed to get \"write\" lock"));
  io_status = test_run (io, &io_out, &io_err);
  g_test_message ("qemu-io: %d %s %s", io_status, io_out, io_err);
  /* qemu-io reports an open failure on stdout or stderr, by version. */
  g_assert_true (strstr (io_out, "Failed to get") != NULL
                 || strstr (io_err, "Failed to get") != NULL);
}

/* A destination imgxfer has open, after a copy into it and with its
 * clones, cannot be opened for writing by qemu; closed, it can. */
static void
test_qemu_refused_while_writing (gconstpointer data)
{
  const char *format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *source_path = make_source (dir);
  g_autofree char *name = g_strconcat ("out.", format, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GError) error = NULL;

  source = imgxfer_open (source_path, NULL, NULL, &error);
  g_assert_no_error (error);
  imgxfer_open_options_set_format (options, format);
  destination = imgxfer_open_destination (
      path, options, imgxfer_backend_get_size (source), source, NULL, NULL,
      IMGXFER_DESTINATION_NONE, NULL, &error);
  g_assert_no_error (error);

  assert_qemu_can_write (dir, path, FALSE);
  copy = imgxfer_copy_new (source, destination);
  imgxfer_copy_set_connections (copy, 4);
  g_assert_true (imgxfer_copy_run (copy, NULL, &error));
  g_assert_no_error (error);
  assert_qemu_can_write (dir, path, FALSE);

  g_clear_object (&copy);
  g_clear_object (&destination);
  test_assert_images_equal (source_path, "qcow2", path, format, FALSE);
  assert_qemu_can_write (dir, path, TRUE);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* Whether someone holds qemu's lock that forbids others to write @path. */
static gboolean
write_forbidden (const char *path)
{
  struct flock fl
      = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 201, .l_len = 1 };
  int fd = g_open (path, O_RDONLY, 0);
  gboolean held;

  if (fd < 0)
    return FALSE;
  g_assert_cmpint (fcntl (fd, F_OFD_GETLK, &fl), ==, 0);
  held = fl.l_type != F_UNLCK;
  close (fd);
  return held;
}

/* While `imgxfer convert` copies from an NBD server, qemu cannot open its
 * destination for writing; the copy then completes. The server holds
 * its requests (nbdkit's pause filter) until the checks are done, so the
 * copy cannot end before them, however slowly they run. */
static void
test_qemu_refused_during_convert (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *socket_path = g_build_filename (dir, "held.sock", NULL);
  g_autofree char *control_path = g_build_filename (dir, "held.ctl", NULL);
  g_autofree char *control_arg
      = g_strconcat ("pause-control=", control_path, NULL);
  g_autofree char *out = g_build_filename (dir, "out.raw", NULL);
  const char *const nbdkit[] = { "nbdkit",  "-f",        "--exit-with-parent",
                                 "-U",      socket_path, "--filter=pause",
                                 "pattern", "size=8M",   control_arg,
                                 NULL };
  g_autoptr (TestServer) server = test_server_start (nbdkit, socket_path);
  /* -f raw: probing the format would read, which waits. */
  const char *const convert[] = { "convert",
                                  "-p",
                                  "-f",
                                  "raw",
                                  "--connections",
                                  "1",
                                  "--request-size",
                                  "1m",
                                  test_server_get_uri (server),
                                  out,
                                  NULL };
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  guint64 value = 0;
  int fd;

  test_pause_control (control_path, 'p');
  process = test_spawn_cli (launcher, convert);
  /* The progress shows once the destination is open, for good. */
  test_wait_for_progress (process);
  g_assert_true (write_forbidden (out));
  assert_qemu_can_write (dir, out, FALSE);
  /* Still copying: the lock was not dropped by a copy that had ended. */
  g_assert_nonnull (g_subprocess_get_identifier (process));
  test_pause_control (control_path, 'r');

  g_assert_cmpint (test_wait_process (process, NULL, NULL), ==, 0);
  g_assert_false (write_forbidden (out));
  /* nbdkit's pattern: each 8 bytes hold their offset, big-endian. */
  fd = g_open (out, O_RDONLY, 0);
  g_assert_cmpint (pread (fd, &value, sizeof value, 7 * 1024 * 1024), ==, 8);
  g_assert_cmpuint (GUINT64_FROM_BE (value), ==, 7 * 1024 * 1024);
  close (fd);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* Two writers of one file are refused even within one process; readers
 * are not. */
static void
test_second_writer_refused (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "image.raw", NULL);
  g_autoptr (ImgxferBackend) first = NULL;
  g_autoptr (ImgxferBackend) second = NULL;
  g_autoptr (ImgxferBackend) reader = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;

  test_create_sparse (path, MiB);
  first = test_open (path, TRUE);
  clone = imgxfer_backend_clone (first, NULL, &error);
  g_assert_no_error (error);
  reader = test_open (path, FALSE);

  second
      = imgxfer_open_destination (path, NULL, MiB, NULL, NULL, NULL,
                                  IMGXFER_DESTINATION_EXISTING, NULL, &error);
  g_assert_null (second);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_IN_USE);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_clear_error (&error);

  /* The lock outlives the first connection while a clone writes. */
  g_clear_object (&first);
  second = imgxfer_open_destination (path, NULL, MiB, NULL, NULL, NULL,
                                     IMGXFER_DESTINATION_NONE, NULL, &error);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_IN_USE);
  g_clear_error (&error);

  g_clear_object (&clone);
  second = imgxfer_open_destination (path, NULL, MiB, NULL, NULL, NULL,
                                     IMGXFER_DESTINATION_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);
  g_clear_object (&second);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* Reading an image that a read-only qemu-nbd serves still works: readers
 * share it, as qemu's do. */
static void
test_read_only_source_shared (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *source = make_source (dir);
  g_autofree char *raw = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *qcow2 = g_build_filename (dir, "copy.qcow2", NULL);
  g_autofree char *socket_path = g_build_filename (dir, "nbd.sock", NULL);
  g_autoptr (TestServer) server
      = test_qemu_nbd_start (source, "qcow2", socket_path);
  const char *const to_raw[] = { "convert", source, raw, NULL };
  const char *const to_qcow2[]
      = { "convert", "-O", "qcow2", source, qcow2, NULL };
  const char *const checksum[] = { "checksum", source, NULL };

  g_assert_cmpint (test_run_cli (to_raw, NULL, NULL), ==, 0);
  g_assert_cmpint (test_run_cli (to_qcow2, NULL, NULL), ==, 0);
  g_assert_cmpint (test_run_cli (checksum, NULL, NULL), ==, 0);
  g_clear_pointer (&server, test_server_stop);
  test_assert_images_equal (source, "qcow2", raw, "raw", FALSE);
  test_assert_images_equal (source, "qcow2", qcow2, "qcow2", FALSE);
  test_tmpdir_free (g_steal_pointer (&dir));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/image-locks/busy-destination", test_busy_destination);
  g_test_add_data_func ("/image-locks/qemu-refused-while-writing/raw", "raw",
                        test_qemu_refused_while_writing);
  g_test_add_data_func ("/image-locks/qemu-refused-while-writing/qcow2",
                        "qcow2", test_qemu_refused_while_writing);
  g_test_add_func ("/image-locks/qemu-refused-during-convert",
                   test_qemu_refused_during_convert);
  g_test_add_func ("/image-locks/second-writer-refused",
                   test_second_writer_refused);
  g_test_add_func ("/image-locks/read-only-source-shared",
                   test_read_only_source_shared);

  return g_test_run ();
}
