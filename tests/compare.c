/* compare.c: imgxfer_compare() and `imgxfer compare`, checked against
 * `qemu-img compare` on raw and qcow2 images made by qemu-img and
 * qemu-io
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "test-servers.h"
#include "test-utils.h"

#define KiB (G_GUINT64_CONSTANT (1024))
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  test_tmpdir_free (f->dir);
}

static char *
path_in (Fixture *f, const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

/* A new image @name of @format and @size, written by qemu-io @commands
 * (NULL-terminated, or NULL). */
static char *
make_image (Fixture *f, const char *name, const char *format, const char *size,
            const char *const *commands)
{
  char *path = path_in (f, name);

  test_qemu_img_create (path, format, size, NULL, NULL);
  if (commands)
    test_qemu_io (path, format, commands);
  return path;
}

/* Runs `qemu-img compare` and `imgxfer compare` with the same arguments
 * and asserts the same verdict: the same output, and imgxfer's exit code
 * for qemu-img's (0 identical, 3 for its 1, different). Returns the
 * output. */
static char *
assert_same_as_qemu (gboolean strict, const char *path1, const char *path2)
{
  const char *const qemu[]
      = { "qemu-img", "compare", strict ? "-s" : "-q", path1, path2, NULL };
  const char *const qemu_loud[] = { "qemu-img", "compare", path1, path2, NULL };
  const char *const ours[]
      = { "compare", strict ? "-s" : "--quiet", path1, path2, NULL };
  const char *const ours_loud[] = { "compare", path1, path2, NULL };
  g_autofree char *qemu_out = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int qemu_status, status;

  /* Without -s, -q is the other option worth checking. */
  qemu_status = test_run (strict ? qemu : qemu_loud, &qemu_out, NULL);
  status = test_run_cli (strict ? ours : ours_loud, &out, &err);
  g_test_message ("%s %s%s: qemu-img %d: %s imgxfer %d: %s%s", path1, path2,
                  strict ? " (strict)" : "", qemu_status, qemu_out, status, out,
                  err);
  g_assert_cmpint (qemu_status, <=, 1);
  g_assert_cmpint (status, ==, qemu_status == 0 ? 0 : 3);
  g_assert_cmpstr (out, ==, qemu_out);
  g_assert_cmpstr (err, ==, "");

  if (!strict)
    {
      g_autofree char *quiet_out = NULL;

      g_assert_cmpint (test_run (qemu, NULL, NULL), ==, qemu_status);
      g_assert_cmpint (test_run_cli (ours, &quiet_out, NULL), ==, status);
      g_assert_cmpstr (quiet_out, ==, "");
    }
  return g_steal_pointer (&out);
}

static void
assert_output (const char *out, const char *expected)
{
  g_assert_cmpstr (out, ==, expected);
}

/* The library call, for the exact offset. */
static void
assert_compare (const char *path1, const char *path2, ImgxferCompareFlags flags,
                ImgxferCompareResult expected, guint64 expected_offset)
{
  g_autoptr (ImgxferBackend) image1 = imgxfer_open (path1, NULL, NULL, NULL);
  g_autoptr (ImgxferBackend) image2 = imgxfer_open (path2, NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  ImgxferCompareResult result;
  guint64 offset = 42;

  g_assert_nonnull (image1);
  g_assert_nonnull (image2);
  g_assert_true (imgxfer_compare (image1, image2, flags, 0, &result, &offset,
                                  NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, expected);
  g_assert_cmpuint (offset, ==, expected_offset);
}

/* The same bytes, allocated differently: a file with holes and one with
 * its zeroes written, and a qcow2 image of the same content. */
static void
test_identical (Fixture *f, gconstpointer data)
{
  const char *format = data;
  const char *const io[]
      = { "write -P 0x11 1M 64k", "write -P 0 2M 64k", NULL };
  const char *const io_other[] = { "write -P 0x11 1M 64k", NULL };
  g_autofree char *a = make_image (f, "a", format, "4M", io);
  g_autofree char *b = make_image (f, "b", format, "4M", io_other);
  g_autofree char *out = NULL;

  out = assert_same_as_qemu (FALSE, a, b);
  assert_output (out, "Images are identical.\n");
  g_free (assert_same_as_qemu (FALSE, a, a));
  g_free (assert_same_as_qemu (TRUE, a, a));
  assert_compare (a, b, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_IDENTICAL, 0);
}

/* One byte differs: qemu-img gives the offset of its 512-byte sector,
 * the library that of the byte. */
static void
test_content_differs (Fixture *f, gconstpointer data)
{
  const char *format = data;
  const char *const io[] = { "write -P 0x11 1M 64k", NULL };
  const char *const io_other[]
      = { "write -P 0x11 1M 64k", "write -P 0x12 1100k 1k", NULL };
  g_autofree char *a = make_image (f, "a", format, "4M", io);
  g_autofree char *b = make_image (f, "b", format, "4M", io_other);
  g_autofree char *out = NULL;

  out = assert_same_as_qemu (FALSE, a, b);
  assert_output (out, "Content mismatch at offset 1126400!\n");
  g_free (assert_same_as_qemu (FALSE, b, a));
  assert_compare (a, b, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_CONTENT_DIFFERS,
                  1100 * KiB);
}

/* Data where the other image has a hole, a byte inside a sector. */
static void
test_data_over_hole (Fixture *f, gconstpointer data)
{
  g_autofree char *a = path_in (f, "a.raw");
  g_autofree char *b = path_in (f, "b.raw");
  g_autofree char *out = NULL;

  test_create_sparse (a, 4 * MiB);
  test_create_sparse (b, 4 * MiB);
  test_write_pattern (b, 3 * MiB + 1000, 1, 0x77);

  out = assert_same_as_qemu (FALSE, a, b);
  assert_output (out, "Content mismatch at offset 3146240!\n");
  g_free (assert_same_as_qemu (FALSE, b, a));
  assert_compare (b, a, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_CONTENT_DIFFERS,
                  3 * MiB + 1000);
}

/* The same content allocated differently: identical, but not in strict
 * mode, which sees data where the other has zeroes. */
static void
test_allocation_differs (Fixture *f, gconstpointer data)
{
  const char *format = data;
  /* Both end with the same data, where qemu marks the end of the image
   * in the status it compares in strict mode. */
  const char *const io[] = { "write -P 0x11 1M 64k", "write -P 0 2M 64k",
                             "write -P 0x13 4032k 64k", NULL };
  const char *const io_other[]
      = { "write -P 0x11 1M 64k", "write -P 0x13 4032k 64k", NULL };
  g_autofree char *a = make_image (f, "a", format, "4M", io);
  g_autofree char *b = make_image (f, "b", format, "4M", io_other);
  g_autofree char *out = NULL;

  out = assert_same_as_qemu (FALSE, a, b);
  assert_output (out, "Images are identical.\n");
  g_clear_pointer (&out, g_free);
  out = assert_same_as_qemu (TRUE, a, b);
  assert_output (out, "Strict mode: Offset 2097152 block status mismatch!\n");
  assert_compare (a, b, IMGXFER_COMPARE_STRICT,
                  IMGXFER_COMPARE_ALLOCATION_DIFFERS, 2 * MiB);
}

/* A zero cluster, a cluster of written zeroes and an unallocated one
 * read alike; strict mode tells them apart. */
static void
test_qcow2_zero_kinds (Fixture *f, gconstpointer data)
{
  const char *const zero[]
      = { "write -z 1M 64k", "write -P 1 4032k 64k", NULL };
  const char *const written[]
      = { "write -P 0 1M 64k", "write -P 1 4032k 64k", NULL };
  const char *const none[] = { "write -P 1 4032k 64k", NULL };
  g_autofree char *z = make_image (f, "z.qcow2", "qcow2", "4M", zero);
  g_autofree char *w = make_image (f, "w.qcow2", "qcow2", "4M", written);
  g_autofree char *n = make_image (f, "n.qcow2", "qcow2", "4M", none);
  const char *images[] = { z, w, n };

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    for (guint j = 0; j < G_N_ELEMENTS (images); j++)
      {
        g_autofree char *out
            = assert_same_as_qemu (FALSE, images[i], images[j]);
        g_autofree char *strict
            = assert_same_as_qemu (TRUE, images[i], images[j]);

        assert_output (out, "Images are identical.\n");
        assert_output (strict, i == j
                                   ? "Images are identical.\n"
                                   : "Strict mode: Offset 1048576 block status "
                                     "mismatch!\n");
      }
}

/* Images of different sizes: identical when the larger's extra part
 * reads as zeroes, except in strict mode; a byte of data there differs. */
static void
test_sizes_differ (Fixture *f, gconstpointer data)
{
  const char *format = data;
  const char *const io[] = { "write -P 0x11 1M 64k", NULL };
  const char *const io_tail[]
      = { "write -P 0x11 1M 64k", "write -P 0x12 6M 4k", NULL };
  g_autofree char *small = make_image (f, "small", format, "4M", io);
  g_autofree char *large = make_image (f, "large", format, "8M", io);
  g_autofree char *tail = make_image (f, "tail", format, "8M", io_tail);
  g_autofree char *out = NULL;
  g_autofree char *reverse = NULL;
  g_autofree char *strict = NULL;
  g_autofree char *differs = NULL;

  out = assert_same_as_qemu (FALSE, small, large);
  assert_output (out, "Warning: Image size mismatch!\nImages are identical.\n");
  reverse = assert_same_as_qemu (FALSE, large, small);
  assert_output (reverse, out);
  strict = assert_same_as_qemu (TRUE, small, large);
  assert_output (strict, "Strict mode: Image size mismatch!\n");
  differs = assert_same_as_qemu (FALSE, tail, small);
  assert_output (differs, "Warning: Image size mismatch!\n"
                          "Content mismatch at offset 6291456!\n");
  g_free (assert_same_as_qemu (FALSE, small, tail));
  assert_compare (small, large, IMGXFER_COMPARE_STRICT,
                  IMGXFER_COMPARE_SIZE_DIFFERS, 4 * MiB);
  assert_compare (small, tail, IMGXFER_COMPARE_NONE,
                  IMGXFER_COMPARE_CONTENT_DIFFERS, 6 * MiB);
}

/* Differences in several 128 MiB units, which different workers compare
 * at the same time: the first one is the one reported, every time. */
static void
test_first_of_many (Fixture *f, gconstpointer data)
{
  g_autofree char *a = path_in (f, "a.raw");
  g_autofree char *b = path_in (f, "b.raw");
  const guint64 places[]
      = { 900 * MiB + 3, 650 * MiB, 400 * MiB + 7, 130 * MiB + 512 };
  g_autofree char *out = NULL;

  test_create_sparse (a, 1 * GiB);
  test_create_sparse (b, 1 * GiB);
  for (guint i = 0; i < G_N_ELEMENTS (places); i++)
    {
      /* Data in both, the same but for one byte. */
      test_write_pattern (a, places[i] - 64 * KiB, 128 * KiB, 0x21);
      test_write_pattern (b, places[i] - 64 * KiB, 128 * KiB, 0x21);
      test_write_pattern (b, places[i], 1, 0x22);
    }

  for (guint round = 0; round < 5; round++)
    assert_compare (a, b, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_CONTENT_DIFFERS,
                    130 * MiB + 512);
  out = assert_same_as_qemu (FALSE, a, b);
  assert_output (out, "Content mismatch at offset 136315392!\n");
}

/* Two 100 GiB images with a few megabytes of data: the zero ranges are
 * never read, so the comparison takes a moment, not minutes. */
static void
test_large_empty (Fixture *f, gconstpointer data)
{
  g_autofree char *a = path_in (f, "a.raw");
  g_autofree char *b = make_image (f, "b.qcow2", "qcow2", "100G", NULL);
  const char *const io[]
      = { "write -P 0x31 50G 1M", "write -P 0x31 99G 1M", NULL };
  gint64 start;

  test_create_sparse (a, 100 * GiB);
  test_write_pattern (a, 50 * GiB, 1 * MiB, 0x31);
  test_write_pattern (a, 99 * GiB, 1 * MiB, 0x31);
  test_qemu_io (b, "qcow2", io);

  start = g_get_monotonic_time ();
  assert_compare (a, b, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_IDENTICAL, 0);
  /* Reading 100 GiB of zeroes would take a minute or more here. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);

  test_write_pattern (a, 99 * GiB + 4096, 1, 0x32);
  assert_compare (a, b, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_CONTENT_DIFFERS,
                  99 * GiB + 4096);
}

/* An image behind an NBD server compares like a local one, with
 * several connections (qemu-nbd --shared). */
static void
test_nbd (Fixture *f, gconstpointer data)
{
  const char *const io[]
      = { "write -P 0x41 1M 1M", "write -P 0x42 200M 4k", NULL };
  g_autofree char *q = make_image (f, "q.qcow2", "qcow2", "256M", io);
  g_autofree char *r = path_in (f, "r.raw");
  g_autofree char *socket = path_in (f, "nbd.sock");
  const char *const convert[]
      = { "qemu-img", "convert", "-O", "raw", q, r, NULL };
  g_autoptr (TestServer) server = NULL;
  const char *url;

  test_run_ok (convert);
  server = test_qemu_nbd_start (q, "qcow2", socket);
  url = test_server_get_uri (server);

  assert_compare (url, r, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_IDENTICAL, 0);
  test_write_pattern (r, 200 * MiB + 4095, 1, 0x43);
  assert_compare (r, url, IMGXFER_COMPARE_NONE, IMGXFER_COMPARE_CONTENT_DIFFERS,
                  200 * MiB + 4095);
}

/* -f and -F name the formats; a qcow2 read as raw is its container. */
static void
test_formats (Fixture *f, gconstpointer data)
{
  const char *const io[] = { "write -P 0x11 1M 64k", NULL };
  g_autofree char *q = make_image (f, "q.qcow2", "qcow2", "4M", io);
  g_autofree char *r = path_in (f, "r.raw");
  const char *const as_qcow2[]
      = { "compare", "-f", "qcow2", "-F", "raw", q, r, NULL };
  const char *const as_raw[]
      = { "compare", "-f", "raw", "-F", "raw", q, r, NULL };
  const char *const convert[]
      = { "qemu-img", "convert", "-O", "raw", q, r, NULL };
  g_autofree char *out = NULL;

  test_run_ok (convert);
  g_assert_cmpint (test_run_cli (as_qcow2, &out, NULL), ==, 0);
  assert_output (out, "Images are identical.\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_run_cli (as_raw, &out, NULL), ==, 3);
  g_assert_true (g_str_has_prefix (out, "Warning: Image size mismatch!\n"
                                        "Content mismatch at offset 0!"));
}

/* An image that cannot be opened: exit 1, one line naming it; bad
 * command lines: exit 2. */
static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = path_in (f, "missing.raw");
  g_autofree char *a = path_in (f, "a.raw");
  const char *const args[] = { "compare", a, missing, NULL };
  const char *const *usage[] = {
    (const char *const[]){ "compare", a, NULL },
    (const char *const[]){ "compare", a, a, a, NULL },
    (const char *const[]){ "compare", a, "", NULL },
    (const char *const[]){ "compare", "-f", "", a, a, NULL },
    (const char *const[]){ "compare", "--bogus", a, a, NULL },
  };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  test_create_sparse (a, 1 * MiB);
  g_assert_cmpint (test_run_cli (args, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_true (g_str_has_prefix (err, "imgxfer: "));
  g_assert_nonnull (strstr (err, missing));
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);

  for (guint i = 0; i < G_N_ELEMENTS (usage); i++)
    {
      g_autofree char *usage_err = NULL;

      g_assert_cmpint (test_run_cli (usage[i], NULL, &usage_err), ==, 2);
      g_assert_nonnull (strstr (usage_err, "imgxfer compare --help"));
    }
}

#define add_test(path, data, func)                                             \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  const char *formats[] = { "raw", "qcow2" };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      const char *format = formats[i];
      g_autofree char *identical
          = g_strdup_printf ("/compare/%s/identical", format);
      g_autofree char *content
          = g_strdup_printf ("/compare/%s/content-differs", format);
      g_autofree char *allocation
          = g_strdup_printf ("/compare/%s/allocation-differs", format);
      g_autofree char *sizes
          = g_strdup_printf ("/compare/%s/sizes-differ", format);

      add_test (identical, format, test_identical);
      add_test (content, format, test_content_differs);
      add_test (allocation, format, test_allocation_differs);
      add_test (sizes, format, test_sizes_differ);
    }
  add_test ("/compare/raw/data-over-hole", NULL, test_data_over_hole);
  add_test ("/compare/qcow2/zero-kinds", NULL, test_qcow2_zero_kinds);
  add_test ("/compare/first-of-many", NULL, test_first_of_many);
  add_test ("/compare/large-empty", NULL, test_large_empty);
  add_test ("/compare/nbd", NULL, test_nbd);
  add_test ("/compare/formats", NULL, test_formats);
  add_test ("/compare/errors", NULL, test_errors);

  return g_test_run ();
}
