/* backend-lifecycle.c: closing a backend, and what it reports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "imgxfer-copy-private.h"
#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)

#define MEM(b) IMGXFER_MEMORY_BACKEND (b)

/* Every request on a closed backend fails, and says so. */
static void
assert_refused_after_close (ImgxferBackend *backend)
{
  guint8 byte = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;

  g_assert_true (imgxfer_backend_is_closed (backend));
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), &byte, 1, 0,
                                        NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_nonnull (strstr (error->message, imgxfer_backend_get_url (backend)));
  g_clear_error (&error);
  g_assert_false (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                              &byte, 1, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (
      imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_null (clone);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  /* A second close has nothing left to report. */
  g_assert_true (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
}

/* A write-back error found at close is close's to return. */
static void
test_close_write_back_error (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("memory:?size=1M", TRUE);
  g_autoptr (GError) error = NULL;

  test_backend_fill (backend, 0, 4096, 'a');
  imgxfer_memory_backend_fail_nth (MEM (backend), IMGXFER_MEMORY_OP_CLOSE, 1);

  g_assert_false (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_NONE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "write-back failed"));
  g_assert_nonnull (strstr (error->message, "memory:?size=1M"));
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (backend), IMGXFER_MEMORY_OP_FLUSH),
      ==, 0);
  assert_refused_after_close (backend);
}

/* Asked to, close flushes first; a flush error is returned, and the
 * connection is closed all the same. */
static void
test_close_flush (void)
{
  g_autoptr (ImgxferBackend) good = test_open ("memory:good?size=1M", TRUE);
  g_autoptr (ImgxferBackend) bad = test_open ("memory:bad?size=1M", TRUE);
  g_autoptr (GError) error = NULL;

  g_assert_true (
      imgxfer_backend_close (good, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (good), IMGXFER_MEMORY_OP_FLUSH),
      ==, 1);

  imgxfer_memory_backend_fail_nth (MEM (bad), IMGXFER_MEMORY_OP_FLUSH, 1);
  g_assert_false (
      imgxfer_backend_close (bad, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "flush failed"));
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (bad), IMGXFER_MEMORY_OP_CLOSE), ==,
      1);
  g_assert_cmpuint (imgxfer_memory_backend_get_connections (MEM (bad)), ==, 1);
  assert_refused_after_close (bad);
}

/* A read-only backend has nothing to flush: close does not try. */
static void
test_close_read_only (void)
{
  g_autoptr (ImgxferBackend) writer = test_open ("memory:ro?size=1M", TRUE);
  g_autoptr (ImgxferBackend) reader = test_open ("memory:ro", FALSE);
  g_autoptr (GError) error = NULL;

  g_assert_true (
      imgxfer_backend_close (reader, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (writer), IMGXFER_MEMORY_OP_FLUSH),
      ==, 0);
}

/* A copy closes the clones it opened: an error found then fails it. */
static void
test_copy_fails_on_clone_close_error (void)
{
  g_autoptr (ImgxferBackend) src = test_open ("memory:?size=8M", TRUE);
  g_autoptr (ImgxferBackend) dst = test_open ("memory:?size=8M", TRUE);
  g_autoptr (ImgxferCopy) copy = imgxfer_copy_new (src, dst);
  g_autoptr (GError) error = NULL;

  test_backend_fill (src, 0, 8 * MiB, 'a');
  imgxfer_copy_set_connections (copy, 2);
  _imgxfer_copy_set_unit_size (copy, 1 * MiB);
  imgxfer_memory_backend_fail_nth (MEM (dst), IMGXFER_MEMORY_OP_CLOSE, 1);

  g_assert_false (imgxfer_copy_run (copy, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "write-back failed"));
  /* The caller's backends stay open, the clone was closed. */
  g_assert_false (imgxfer_backend_is_closed (dst));
  g_assert_cmpuint (imgxfer_memory_backend_get_peak_connections (MEM (dst)), ==,
                    2);
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (dst), IMGXFER_MEMORY_OP_CLOSE), ==,
      1);
}

static ImgxferBackend *
open_qcow2 (const char *path, gboolean writable)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend;

  imgxfer_open_options_set_format (options, "qcow2");
  imgxfer_open_options_set_writable (options, writable);
  backend = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);
  return backend;
}

/* Closing the last of a backend and its clones stops their qemu-nbd
 * before it returns, and the data written is in the image. */
static void
test_close_stops_qemu_nbd (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "disk.qcow2", NULL);
  g_autofree char *raw = g_build_filename (dir, "disk.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;
  int pid;

  test_qemu_img_create (path, "qcow2", "4M", NULL, NULL);
  backend = open_qcow2 (path, TRUE);
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  pid = test_find_child ("qemu-nbd");
  g_assert_cmpint (pid, >, 0);
  test_backend_fill (clone, 1 * MiB, 4096, 'q');

  g_assert_true (
      imgxfer_backend_close (clone, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
  /* The other connection still uses it. */
  g_assert_false (test_process_gone (pid));
  test_backend_assert_bytes (backend, 1 * MiB, 4096, 'q');

  g_assert_true (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_NONE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (test_process_gone (pid));
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);

  test_write_pattern (raw, 1 * MiB, 4096, 'q');
  g_assert_true (truncate (raw, 4 * MiB) == 0);
  test_assert_images_equal (path, "qcow2", raw, "raw", FALSE);
  test_tmpdir_free (dir);
}

/* A qemu-nbd that died under the backend is an error of close. */
static void
test_close_reports_dead_qemu_nbd (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "disk.qcow2", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  int pid;

  test_qemu_img_create (path, "qcow2", "4M", NULL, NULL);
  backend = open_qcow2 (path, FALSE);
  pid = test_find_child ("qemu-nbd");
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_true (test_wait_process_gone (pid, 10));

  g_assert_false (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_NONE, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER);
  g_assert_nonnull (strstr (error->message, "killed by signal 9"));
  g_assert_nonnull (strstr (error->message, path));
  test_tmpdir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/backend-lifecycle/close/write-back-error",
                   test_close_write_back_error);
  g_test_add_func ("/backend-lifecycle/close/flush", test_close_flush);
  g_test_add_func ("/backend-lifecycle/close/read-only", test_close_read_only);
  g_test_add_func ("/backend-lifecycle/close/copy-clones",
                   test_copy_fails_on_clone_close_error);
  g_test_add_func ("/backend-lifecycle/close/stops-qemu-nbd",
                   test_close_stops_qemu_nbd);
  g_test_add_func ("/backend-lifecycle/close/dead-qemu-nbd",
                   test_close_reports_dead_qemu_nbd);

  return g_test_run ();
}
