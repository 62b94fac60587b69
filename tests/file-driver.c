/* file-driver.c: the file driver against real files with real holes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "test-utils.h"

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/file-driver/extents/sparse", test_extents_of_sparse_file);
  g_test_add_func ("/file-driver/open/missing", test_missing_file);
  g_test_add_func ("/file-driver/read/beyond-end", test_read_beyond_end);

  return g_test_run ();
}
