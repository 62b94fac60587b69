/* bindings.c: the calls shaped for language bindings, from C, so that
 * they run under the sanitizers too (the Python tests do not)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-utils.h"

/* A 1 MiB raw file: zeroes, with 4 KiB of 0xa5 at 64 KiB. */
typedef struct
{
  char *dir;
  char *path;
  ImgxferBackend *source;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_tmpdir_new ();
  fixture->path = g_build_filename (fixture->dir, "image.raw", NULL);
  test_create_sparse (fixture->path, 1024 * 1024);
  test_write_pattern (fixture->path, 65536, 4096, 0xa5);
  fixture->source = test_open (fixture->path, FALSE);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->source);
  g_free (fixture->path);
  test_tmpdir_free (fixture->dir);
}

static void
test_read_bytes (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const guint8 *read;
  gsize length;

  bytes = imgxfer_source_read_bytes (IMGXFER_SOURCE (fixture->source), 8192,
                                     61440, NULL, &error);

  g_assert_no_error (error);
  read = g_bytes_get_data (bytes, &length);
  g_assert_cmpuint (length, ==, 8192);
  for (gsize i = 0; i < 8192; i++)
    g_assert_cmpuint (read[i], ==, i < 4096 ? 0 : 0xa5);
}

static void
test_read_bytes_empty (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  bytes = imgxfer_source_read_bytes (IMGXFER_SOURCE (fixture->source), 0,
                                     4096, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
}

/* A length no buffer could hold must be an error naming the file, not an
 * abort in the allocator. */
static void
test_read_bytes_beyond_end (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  bytes = imgxfer_source_read_bytes (IMGXFER_SOURCE (fixture->source),
                                     G_MAXSIZE, 0, NULL, &error);

  g_assert_null (bytes);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, fixture->path));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/bindings/read-bytes", Fixture, NULL, fixture_set_up,
              test_read_bytes, fixture_tear_down);
  g_test_add ("/bindings/read-bytes/empty", Fixture, NULL, fixture_set_up,
              test_read_bytes_empty, fixture_tear_down);
  g_test_add ("/bindings/read-bytes/beyond-end", Fixture, NULL,
              fixture_set_up, test_read_bytes_beyond_end, fixture_tear_down);

  return g_test_run ();
}
