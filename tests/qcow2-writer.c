/* qcow2-writer.c: new qcow2 images written without qemu, checked by qemu
 *
 * Every image made here must pass `qemu-img check` and read, through
 * qemu, exactly what was written.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER (64 * KiB)

typedef struct
{
  char *dir;
  char *raw;   /* the reference, written the same way */
  char *qcow2; /* written by imgxfer */
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_tmpdir_new ();
  fixture->raw = g_build_filename (fixture->dir, "image.raw", NULL);
  fixture->qcow2 = g_build_filename (fixture->dir, "image.qcow2", NULL);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_free (fixture->raw);
  g_free (fixture->qcow2);
  test_tmpdir_free (fixture->dir);
}

static void
assert_check_clean (const char *path)
{
  const char *argv[] = { "qemu-img", "check", "-f", "qcow2", path, NULL };

  test_run_ok (argv);
}

static JsonObject *
qemu_img_json (const char *command, const char *path)
{
  const char *argv[]
      = { "qemu-img", command, "--output=json", "-f", "qcow2", path, NULL };
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;

  test_run (argv, &out, NULL);
  root = test_parse_json (out);
  return json_object_ref (json_node_get_object (root));
}

static JsonObject *
image_info (const char *path)
{
  return qemu_img_json ("info", path);
}

/* The clusters the image's tables point to: a partly written cluster
 * counts whole, whatever holes the image file has inside it. */
static gint64
allocated_clusters (const char *path)
{
  g_autoptr (JsonObject) check = qemu_img_json ("check", path);

  return json_object_get_int_member (check, "allocated-clusters");
}

static ImgxferBackend *
create (const char *path, const char *format, guint64 size)
{
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend
      = imgxfer_create (path, format, size, NULL, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  return backend;
}

static void
flush (ImgxferBackend *backend)
{
  g_autoptr (GError) error = NULL;

  imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, &error);
  g_assert_no_error (error);
}

/* The same writes and zeroes into the raw reference and the qcow2. */
typedef struct
{
  ImgxferBackend *raw;
  ImgxferBackend *qcow2;
} Pair;

static void
pair_write (Pair *pair, guint64 offset, gsize length, guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  ImgxferBackend *backends[] = { pair->raw, pair->qcow2 };

  memset (buffer, byte, length);
  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    {
      g_autoptr (GError) error = NULL;

      imgxfer_destination_pwrite (IMGXFER_DESTINATION (backends[i]), buffer,
                                  length, offset, NULL, &error);
      g_assert_no_error (error);
    }
}

static void
pair_zero (Pair *pair, guint64 offset, guint64 length)
{
  ImgxferBackend *backends[] = { pair->raw, pair->qcow2 };

  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    {
      g_autoptr (GError) error = NULL;

      imgxfer_destination_zero (IMGXFER_DESTINATION (backends[i]), offset,
                                length, IMGXFER_ZERO_NONE, NULL, &error);
      g_assert_no_error (error);
    }
}

static void
pair_finish (Pair *pair)
{
  flush (pair->raw);
  flush (pair->qcow2);
  g_clear_object (&pair->raw);
  g_clear_object (&pair->qcow2);
}

/* Writes that start and end anywhere in a cluster, that cross clusters
 * and L2 tables (512 MiB each), that land on clusters written before,
 * and zeroes over data, all show through qemu as written. */
static void
test_writes_anywhere (Fixture *fixture, gconstpointer data)
{
  guint64 size = G_GUINT64_CONSTANT (1536) * MiB + 12345;
  Pair pair = { create (fixture->raw, "raw", size),
                create (fixture->qcow2, "qcow2", size) };

  pair_write (&pair, 5000, 3000, 0x11);
  pair_write (&pair, CLUSTER - 100, 300, 0x22);
  pair_write (&pair, 512 * MiB - 7000, 3 * CLUSTER, 0x33);
  pair_write (&pair, 1 * MiB, 2 * MiB + 1, 0x44);
  pair_write (&pair, 1 * MiB + 4096, 100, 0x55); /* over 0x44 */
  pair_zero (&pair, 2 * MiB - 10, 20000);        /* over 0x44 */
  pair_zero (&pair, 900 * MiB, 10 * MiB);        /* never written */
  pair_write (&pair, size - 3, 3, 0x66);         /* the last bytes */
  pair_finish (&pair);

  assert_check_clean (fixture->qcow2);
  test_assert_images_equal (fixture->raw, "raw", fixture->qcow2, "qcow2",
                            FALSE);
}

/* 40000 clusters need two refcount blocks (32768 clusters each) and five
 * L2 tables (8192 clusters each). */
#define N_PAIRS 20000

typedef struct
{
  ImgxferBackend *backend;
  guint first;
  guint step;
} Writer;

/* Pair p is clusters 2p and 2p + 1, and 8 KiB across the boundary
 * between them: 4 KiB at the end of one, 4 KiB at the start of the
 * other. */
static guint64
pair_data_offset (guint64 p)
{
  return (2 * p + 1) * CLUSTER - 4096;
}

static guint8
pair_byte (guint64 p)
{
  return p % 251 + 1;
}

static gpointer
write_pairs (gpointer data)
{
  Writer *writer = data;
  guint8 buffer[8192];

  for (guint64 p = writer->first; p < N_PAIRS; p += writer->step)
    {
      g_autoptr (GError) error = NULL;

      memset (buffer, pair_byte (p), sizeof buffer);
      imgxfer_destination_pwrite (IMGXFER_DESTINATION (writer->backend), buffer,
                                  sizeof buffer, pair_data_offset (p), NULL,
                                  &error);
      g_assert_no_error (error);
    }
  return NULL;
}

/* Four connections allocate clusters at the same time, so that theirs
 * interleave in the file. */
static void
test_concurrent_allocation (Fixture *fixture, gconstpointer data)
{
  guint64 size = G_GUINT64_CONSTANT (2) * N_PAIRS * CLUSTER;
  g_autoptr (ImgxferBackend) qcow2 = create (fixture->qcow2, "qcow2", size);
  g_autoptr (GPtrArray) commands = NULL;
  Writer writers[4];
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (writers); i++)
    {
      g_autoptr (GError) error = NULL;

      writers[i].backend = imgxfer_backend_clone (qcow2, NULL, &error);
      g_assert_no_error (error);
      writers[i].first = i;
      writers[i].step = G_N_ELEMENTS (writers);
      threads[i] = g_thread_new ("writer", write_pairs, &writers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (writers); i++)
    {
      g_thread_join (threads[i]);
      flush (writers[i].backend);
      g_object_unref (writers[i].backend);
    }
  flush (qcow2);
  /* qemu opens no image that imgxfer is writing. */
  g_clear_object (&qcow2);

  /* qemu-img compare would take seconds over so many extents: a sample
   * of the pairs, from every L2 table and both refcount blocks, does. */
  assert_check_clean (fixture->qcow2);
  g_assert_cmpint (allocated_clusters (fixture->qcow2), ==, 2 * N_PAIRS);
  commands = g_ptr_array_new_with_free_func (g_free);
  for (guint64 p = 0; p < N_PAIRS; p += 499)
    {
      guint64 offset = pair_data_offset (p);

      g_ptr_array_add (commands,
                       g_strdup_printf ("read -P 0 %" G_GUINT64_FORMAT " %u",
                                        2 * p * CLUSTER, CLUSTER - 4096));
      g_ptr_array_add (commands,
                       g_strdup_printf ("read -P %u %" G_GUINT64_FORMAT " 8192",
                                        pair_byte (p), offset));
      g_ptr_array_add (commands,
                       g_strdup_printf ("read -P 0 %" G_GUINT64_FORMAT " %u",
                                        offset + 8192, CLUSTER - 4096));
    }
  g_ptr_array_add (commands, NULL);
  test_qemu_io (fixture->qcow2, "qcow2", (const char *const *)commands->pdata);
}

/* An image with no data is complete at once, at any size, and costs a
 * few clusters. */
static void
test_empty (Fixture *fixture, gconstpointer data)
{
  const guint64 sizes[] = { 0, 1, G_GUINT64_CONSTANT (100) << 30 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (ImgxferBackend) qcow2
          = create (fixture->qcow2, "qcow2", sizes[i]);
      g_autoptr (JsonObject) info = NULL;

      g_clear_object (&qcow2);
      assert_check_clean (fixture->qcow2);
      info = image_info (fixture->qcow2);
      /* Whole sectors, as qemu-img create makes them. */
      g_assert_cmpint (json_object_get_int_member (info, "virtual-size"), ==,
                       (sizes[i] + 511) / 512 * 512);
      g_assert_cmpint (json_object_get_int_member (info, "actual-size"), <=,
                       8 * CLUSTER);
    }
}

/* The copy engine into a new qcow2 allocates the clusters qemu-img
 * convert allocates: data clusters, not the zeroes inside the data. */
static void
test_convert_like_qemu_img (Fixture *fixture, gconstpointer data)
{
  g_autofree char *reference
      = g_build_filename (fixture->dir, "reference.qcow2", NULL);
  const char *qemu_img[] = { "qemu-img", "convert",    "-f",      "raw", "-O",
                             "qcow2",    fixture->raw, reference, NULL };
  const char *convert[] = { "convert", "-f",         "raw",          "-O",
                            "qcow2",   fixture->raw, fixture->qcow2, NULL };
  const char *writes[]
      = { "write -P 0x11 0 1M",       "write -P 0x22 5000 3000",
          "write -P 0x33 100M 70000", "write -P 0 200M 1M", /* zeroes as data */
          "write -P 0x44 255M 1M",    NULL };
  g_autofree char *err = NULL;

  test_qemu_img_create (fixture->raw, "raw", "256M", NULL, NULL);
  test_qemu_io (fixture->raw, "raw", writes);
  g_assert_cmpint (test_run_cli (convert, NULL, &err), ==, 0);
  test_run_ok (qemu_img);

  assert_check_clean (fixture->qcow2);
  test_assert_images_equal (fixture->raw, "raw", fixture->qcow2, "qcow2",
                            FALSE);
  g_assert_cmpint (allocated_clusters (fixture->qcow2), ==,
                   allocated_clusters (reference));
}

/* A copy that fails leaves an image that says it is not consistent:
 * qemu repairs its refcounts before writing to it. */
static void
test_failed_copy_leaves_dirty_image (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) source = test_open ("memory:?size=64m", TRUE);
  g_autoptr (ImgxferBackend) qcow2 = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (JsonObject) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *buffer = g_malloc (8 * MiB);

  /* Data everywhere, so that the copy allocates before it fails. */
  memset (buffer, 0x77, 8 * MiB);
  for (guint64 offset = 0; offset < 64 * MiB; offset += 8 * MiB)
    {
      imgxfer_destination_pwrite (IMGXFER_DESTINATION (source), buffer, 8 * MiB,
                                  offset, NULL, &error);
      g_assert_no_error (error);
    }
  imgxfer_memory_backend_fail_nth (IMGXFER_MEMORY_BACKEND (source),
                                   IMGXFER_MEMORY_OP_READ, 20);

  qcow2 = create (fixture->qcow2, "qcow2", 64 * MiB);
  copy = imgxfer_copy_new (source, qcow2);
  imgxfer_copy_set_request_size (copy, 1 * MiB);
  g_assert_false (imgxfer_copy_run (copy, NULL, &error));
  g_assert_nonnull (error);
  g_clear_object (&copy);
  g_clear_object (&qcow2);

  info = image_info (fixture->qcow2);
  g_assert_true (json_object_get_boolean_member (info, "dirty-flag"));
}

static void
assert_read (ImgxferBackend *backend, guint64 offset, gsize length,
             const guint8 *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = imgxfer_source_read_bytes (
      IMGXFER_SOURCE (backend), length, offset, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, length);
}

/* The driver's backend reads back what it wrote, before any flush and
 * from its clones, and tells written clusters from the others; its
 * checksum is the raw reference's. */
static void
test_read_back_while_open (Fixture *fixture, gconstpointer data)
{
  guint64 size = 8 * MiB + 1024; /* whole sectors, as in qcow2 */
  Pair pair = { create (fixture->raw, "raw", size),
                create (fixture->qcow2, "qcow2", size) };
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *raw_sum = NULL;
  g_autofree char *qcow2_sum = NULL;
  g_autofree guint8 *expected = g_malloc0 (3 * CLUSTER);
  const ImgxferExtent *e;

  g_assert_true (IMGXFER_IS_SOURCE (pair.qcow2));
  pair_write (&pair, CLUSTER + 100, 5000, 0x5a);
  pair_zero (&pair, CLUSTER + 1000, 100);
  /* The last cluster allocated: the file ends 10 bytes into it. */
  pair_write (&pair, 4 * MiB, 10, 0xa5);

  memset (expected + CLUSTER + 100, 0x5a, 5000);
  memset (expected + CLUSTER + 1000, 0, 100);
  assert_read (pair.qcow2, 0, 3 * CLUSTER, expected);
  clone = imgxfer_backend_clone (pair.qcow2, NULL, &error);
  g_assert_no_error (error);
  assert_read (clone, 0, 3 * CLUSTER, expected);
  memset (expected, 0, 3 * CLUSTER);
  memset (expected, 0xa5, 10);
  assert_read (clone, 4 * MiB, CLUSTER, expected);

  /* Clusters 1 and 64 hold data; the rest reads as zeroes. */
  extents = imgxfer_image_extents (pair.qcow2, IMGXFER_EXTENT_CONTEXT_ZERO,
                                   NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (extents->len, ==, 5);
  e = &g_array_index (extents, ImgxferExtent, 0);
  g_assert_cmpuint (e->length, ==, CLUSTER);
  g_assert_cmpuint (e->flags, ==, IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  e = &g_array_index (extents, ImgxferExtent, 1);
  g_assert_cmpuint (e->start, ==, CLUSTER);
  g_assert_cmpuint (e->length, ==, CLUSTER);
  g_assert_cmpuint (e->flags, ==, 0);
  e = &g_array_index (extents, ImgxferExtent, 3);
  g_assert_cmpuint (e->start, ==, 4 * MiB);
  g_assert_cmpuint (e->length, ==, CLUSTER);
  g_assert_cmpuint (e->flags, ==, 0);
  e = &g_array_index (extents, ImgxferExtent, 4);
  g_assert_cmpuint (e->start + e->length, ==, size);

  raw_sum = imgxfer_checksum_compute (pair.raw, NULL, 0, 0, NULL, &error);
  g_assert_no_error (error);
  qcow2_sum = imgxfer_checksum_compute (pair.qcow2, NULL, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qcow2_sum, ==, raw_sum);

  g_clear_object (&clone);
  pair_finish (&pair);
  assert_check_clean (fixture->qcow2);
  test_assert_images_equal (fixture->raw, "raw", fixture->qcow2, "qcow2",
                            FALSE);
}

/* The qcow2 driver leaves images it did not create to qemu. */
static void
test_existing_image_is_qemus (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) qcow2 = create (fixture->qcow2, "qcow2", MiB);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferBackend) reopened = NULL;

  g_assert_cmpstr (G_OBJECT_TYPE_NAME (qcow2), ==, "ImgxferQcow2Writer");
  g_clear_object (&qcow2);
  imgxfer_open_options_set_format (options, "qcow2");
  reopened = imgxfer_open (fixture->qcow2, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (reopened), ==, "ImgxferQemuBackend");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add ("/qcow2-writer/" path, Fixture, NULL, fixture_setup, func,       \
              fixture_teardown)
  ADD ("writes-anywhere", test_writes_anywhere);
  ADD ("concurrent-allocation", test_concurrent_allocation);
  ADD ("empty", test_empty);
  ADD ("convert-like-qemu-img", test_convert_like_qemu_img);
  ADD ("failed-copy-leaves-dirty-image", test_failed_copy_leaves_dirty_image);
  ADD ("read-back-while-open", test_read_back_while_open);
  ADD ("existing-image-is-qemus", test_existing_image_is_qemus);
#undef ADD

  return g_test_run ();
}
