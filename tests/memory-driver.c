/* memory-driver.c: the memory: driver that the engine's tests rely on
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)

#define MEM(b) IMGXFER_MEMORY_BACKEND (b)

static ImgxferBackend *
try_open (const char *url, gboolean writable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_writable (options, writable);
  imgxfer_open_options_set_format (options, "raw");
  return imgxfer_open (url, options, NULL, error);
}

static void
write_byte (ImgxferBackend *backend, guint64 offset, gsize length, guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  g_autoptr (GError) error = NULL;

  memset (buffer, byte, length);
  imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend), buffer, length,
                              offset, NULL, &error);
  g_assert_no_error (error);
}

static guint8
read_byte (ImgxferBackend *backend, guint64 offset)
{
  g_autoptr (GError) error = NULL;
  guint8 byte = 0xff;

  imgxfer_source_pread (IMGXFER_SOURCE (backend), &byte, 1, offset, NULL,
                        &error);
  g_assert_no_error (error);
  return byte;
}

static void
assert_extent (GArray *extents,
               guint i,
               guint64 start,
               guint64 length,
               ImgxferExtentFlags flags)
{
  const ImgxferExtent *e;

  g_assert_cmpuint (i, <, extents->len);
  e = &g_array_index (extents, ImgxferExtent, i);
  g_assert_cmpuint (e->start, ==, start);
  g_assert_cmpuint (e->length, ==, length);
  g_assert_cmpuint (e->flags, ==, flags);
}

static void
test_anonymous_images_are_distinct (void)
{
  g_autoptr (ImgxferBackend) a = test_open ("memory:?size=1M", TRUE);
  g_autoptr (ImgxferBackend) b = test_open ("memory:?size=1M", TRUE);

  g_assert_true (IMGXFER_IS_MEMORY_BACKEND (a));
  g_assert_cmpuint (imgxfer_backend_get_size (a), ==, 1 * MiB);
  write_byte (a, 100, 1, 'a');
  g_assert_cmpint (read_byte (a, 100), ==, 'a');
  g_assert_cmpint (read_byte (b, 100), ==, 0);
}

static void
test_named_image_is_shared (void)
{
  g_autoptr (ImgxferBackend) writer = test_open ("memory:disk?size=2M", TRUE);
  g_autoptr (ImgxferBackend) reader = test_open ("memory:disk", FALSE);
  g_autoptr (ImgxferBackend) other = NULL;
  g_autoptr (GError) error = NULL;

  write_byte (writer, 1 * MiB, 10, 'n');
  g_assert_cmpuint (imgxfer_backend_get_size (reader), ==, 2 * MiB);
  g_assert_cmpint (read_byte (reader, 1 * MiB + 9), ==, 'n');
  g_assert_false (imgxfer_backend_get_caps (reader)
                  & IMGXFER_BACKEND_CAN_WRITE);

  other = try_open ("memory:disk?size=3M", FALSE, &error);
  g_assert_null (other);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* The image lives while it is used, and no longer. */
  g_clear_object (&writer);
  g_clear_object (&reader);
  other = try_open ("memory:disk", FALSE, &error);
  g_assert_null (other);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
}

static void
test_invalid_urls (void)
{
  const char *const urls[] = {
    "memory:",                      /* a new image needs a size */
    "memory:?size=ten",             /* not a size */
    "memory:?size=1M&colour=blue",  /* unknown parameter */
    "memory:?size=1M&extents=maybe",
    "memory:?size=1M&max-connections=0",
    "memory://host/x?size=1M",
  };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferBackend) backend = try_open (urls[i], TRUE, &error);

      g_test_message ("%s: %s", urls[i], error ? error->message : "opened");
      g_assert_null (backend);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, urls[i]));
    }
}

static void
test_url_parameters (void)
{
  g_autoptr (ImgxferBackend) backend = test_open (
      "memory:?size=1g&max-block=64k&max-connections=3&extents=no&flush=off"
      "&is-zero=yes&preferred-block=16k",
      TRUE);
  ImgxferBackendCaps caps = imgxfer_backend_get_caps (backend);
  guint32 preferred, maximum;

  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 1024 * MiB);
  imgxfer_backend_get_block_sizes (backend, NULL, &preferred, &maximum);
  g_assert_cmpuint (preferred, ==, 16 * KiB);
  g_assert_cmpuint (maximum, ==, 64 * KiB);
  g_assert_cmpuint (imgxfer_backend_get_max_connections (backend), ==, 3);
  g_assert_false (caps & IMGXFER_BACKEND_CAN_EXTENTS);
  g_assert_false (caps & IMGXFER_BACKEND_CAN_FLUSH);
  g_assert_true (caps & IMGXFER_BACKEND_CAN_ZERO);
  g_assert_true (caps & IMGXFER_BACKEND_IS_ZERO);
  g_assert_true (caps & IMGXFER_BACKEND_CAN_WRITE);
}

static void
test_extents (void)
{
  g_autoptr (ImgxferBackend) backend
      = test_open ("memory:?size=1M", TRUE);
  g_autoptr (GArray) zero = NULL;
  g_autoptr (GArray) dirty = NULL;
  g_autoptr (GError) error = NULL;

  write_byte (backend, 4096, 1, 'a');
  imgxfer_memory_backend_mark (MEM (backend), 64 * KiB, 64 * KiB,
                               IMGXFER_EXTENT_HOLE);
  imgxfer_memory_backend_mark (MEM (backend), 0, 6000,
                               IMGXFER_EXTENT_DIRTY);

  zero = imgxfer_image_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO, NULL,
                                &error);
  g_assert_no_error (error);
  g_assert_cmpuint (zero->len, ==, 5);
  assert_extent (zero, 0, 0, 4096, IMGXFER_EXTENT_ZERO);
  assert_extent (zero, 1, 4096, 4096, IMGXFER_EXTENT_DATA);
  assert_extent (zero, 2, 8192, 64 * KiB - 8192, IMGXFER_EXTENT_ZERO);
  assert_extent (zero, 3, 64 * KiB, 64 * KiB,
                 IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  assert_extent (zero, 4, 128 * KiB, 1 * MiB - 128 * KiB,
                 IMGXFER_EXTENT_ZERO);

  dirty = imgxfer_image_extents (backend, IMGXFER_EXTENT_CONTEXT_DIRTY, NULL,
                                 &error);
  g_assert_no_error (error);
  assert_extent (dirty, 0, 0, 4096,
                 IMGXFER_EXTENT_DIRTY | IMGXFER_EXTENT_ZERO);
  assert_extent (dirty, 1, 4096, 6000 - 4096, IMGXFER_EXTENT_DIRTY);
  assert_extent (dirty, 2, 6000, 8192 - 6000, IMGXFER_EXTENT_DATA);
  assert_extent (dirty, 3, 8192, 1 * MiB - 8192, IMGXFER_EXTENT_ZERO);
}

static void
test_clone_shares_image (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("memory:?size=1M", TRUE);
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;

  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  write_byte (clone, 10, 1, 'c');
  g_assert_cmpint (read_byte (backend, 10), ==, 'c');
  g_assert_cmpuint (imgxfer_backend_get_caps (clone), ==,
                    imgxfer_backend_get_caps (backend));
  g_assert_cmpuint (imgxfer_memory_backend_get_connections (MEM (backend)),
                    ==, 2);
  g_clear_object (&clone);
  g_assert_cmpuint (
      imgxfer_memory_backend_get_peak_connections (MEM (backend)), ==, 2);
}

static void
test_fail_nth (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("memory:?size=1M", TRUE);
  g_autoptr (GError) error = NULL;
  guint8 byte = 'f';

  imgxfer_memory_backend_fail_nth (MEM (backend), IMGXFER_MEMORY_OP_WRITE, 2);
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                             &byte, 1, 0, NULL, &error));
  g_assert_false (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                              &byte, 1, 4096, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "4096"));
  g_clear_error (&error);
  /* One shot. */
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                             &byte, 1, 8192, NULL, &error));
  g_assert_cmpuint (
      imgxfer_memory_backend_get_count (MEM (backend), IMGXFER_MEMORY_OP_WRITE),
      ==, 3);
}

static void
test_short_read (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("memory:?size=1M", TRUE);
  g_autoptr (GError) error = NULL;
  guint8 buffer[8192];

  imgxfer_memory_backend_short_read_nth (MEM (backend), 1);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        sizeof buffer, 0, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ);
}

/* Zeroing drops whole chunks only when deallocation is allowed. */
static void
test_zero_trim (void)
{
  g_autoptr (ImgxferBackend) backend = test_open ("memory:?size=1M", TRUE);
  ImgxferDestination *dst = IMGXFER_DESTINATION (backend);
  g_autoptr (GError) error = NULL;

  write_byte (backend, 0, 64 * KiB, 'z');
  g_assert_cmpuint (imgxfer_memory_backend_get_stored_chunks (MEM (backend)),
                    ==, 16);

  imgxfer_destination_zero (dst, 0, 32 * KiB, IMGXFER_ZERO_NONE, NULL,
                            &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_memory_backend_get_stored_chunks (MEM (backend)),
                    ==, 16);
  g_assert_cmpint (read_byte (backend, 100), ==, 0);

  /* Partial chunks at the edges are cleared, not dropped. */
  imgxfer_destination_zero (dst, 100, 64 * KiB - 200, IMGXFER_ZERO_MAY_TRIM,
                            NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_memory_backend_get_stored_chunks (MEM (backend)),
                    ==, 2);
  g_assert_cmpint (read_byte (backend, 64 * KiB - 100), ==, 'z');
  g_assert_cmpint (read_byte (backend, 64 * KiB - 101), ==, 0);
  g_assert_cmpuint (imgxfer_memory_backend_get_trim_count (MEM (backend)), ==,
                    1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/memory-driver/url/anonymous-images-are-distinct",
                   test_anonymous_images_are_distinct);
  g_test_add_func ("/memory-driver/url/named-image-is-shared",
                   test_named_image_is_shared);
  g_test_add_func ("/memory-driver/url/invalid", test_invalid_urls);
  g_test_add_func ("/memory-driver/url/parameters", test_url_parameters);
  g_test_add_func ("/memory-driver/extents/marks", test_extents);
  g_test_add_func ("/memory-driver/clone/shares-image",
                   test_clone_shares_image);
  g_test_add_func ("/memory-driver/fault/fail-nth", test_fail_nth);
  g_test_add_func ("/memory-driver/fault/short-read", test_short_read);
  g_test_add_func ("/memory-driver/zero/trim", test_zero_trim);

  return g_test_run ();
}
