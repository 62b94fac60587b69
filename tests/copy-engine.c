/* copy-engine.c: the copy engine, against memory: images with counters and
 * injected faults, and against real files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "imgxfer-copy-private.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)

#define MEM(b) IMGXFER_MEMORY_BACKEND (b)

/* Test data is written and read in pieces that every memory: image in
 * this file takes, whatever its max-block. */
#define PIECE (16 * KiB)

static ImgxferBackend *
open_memory (const char *url)
{
  ImgxferBackend *backend = test_open (url, TRUE);

  g_assert_true (IMGXFER_IS_MEMORY_BACKEND (backend));
  return backend;
}

static void
fill (ImgxferBackend *backend, guint64 offset, gsize length, guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  g_autoptr (GError) error = NULL;

  memset (buffer, byte, length);
  for (gsize done = 0; done < length; done += PIECE)
    {
      imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend),
                                  buffer + done, MIN (PIECE, length - done),
                                  offset + done, NULL, &error);
      g_assert_no_error (error);
    }
}

static GBytes *
read_all (ImgxferBackend *backend)
{
  gsize size = imgxfer_backend_get_size (backend);
  guint8 *buffer = g_malloc (MAX (size, 1));
  g_autoptr (GError) error = NULL;

  for (gsize done = 0; done < size; done += PIECE)
    {
      imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer + done,
                            MIN (PIECE, size - done), done, NULL, &error);
      g_assert_no_error (error);
    }
  return g_bytes_new_take (buffer, size);
}

/* Asserts that @backend holds @byte from @offset for @length bytes. */
static void
assert_bytes (ImgxferBackend *backend,
              guint64 offset,
              gsize length,
              guint8 byte)
{
  g_autoptr (GBytes) bytes = read_all (backend);
  const guint8 *data = g_bytes_get_data (bytes, NULL);

  for (gsize i = 0; i < length; i++)
    {
      if (data[offset + i] != byte)
        g_error ("byte at %" G_GUINT64_FORMAT " is 0x%02x, expected 0x%02x",
                 offset + i, data[offset + i], byte);
    }
}

/* Asserts the first @size bytes of both images are the same. */
static void
assert_same (ImgxferBackend *a, ImgxferBackend *b, gsize size)
{
  g_autoptr (GBytes) bytes_a = read_all (a);
  g_autoptr (GBytes) bytes_b = read_all (b);

  g_assert_cmpuint (g_bytes_get_size (bytes_a), >=, size);
  g_assert_cmpuint (g_bytes_get_size (bytes_b), >=, size);
  g_assert_cmpmem (g_bytes_get_data (bytes_a, NULL), size,
                   g_bytes_get_data (bytes_b, NULL), size);
}

static void
reset (ImgxferBackend *a, ImgxferBackend *b)
{
  imgxfer_memory_backend_reset_counters (MEM (a));
  imgxfer_memory_backend_reset_counters (MEM (b));
}

static guint64
count (ImgxferBackend *backend, ImgxferMemoryOp op)
{
  return imgxfer_memory_backend_get_count (MEM (backend), op);
}

static guint64
bytes (ImgxferBackend *backend, ImgxferMemoryOp op)
{
  return imgxfer_memory_backend_get_bytes (MEM (backend), op);
}

static guint64
largest (ImgxferBackend *backend, ImgxferMemoryOp op)
{
  return imgxfer_memory_backend_get_largest (MEM (backend), op);
}

/* The lengths given to the progress function. */
typedef struct
{
  GMutex lock;
  GArray *lengths;
  guint64 sum;
  GCancellable *cancel_after_first; /* cancelled on the first report */
} Progress;

static void
on_progress (guint64 length, gpointer data)
{
  Progress *p = data;

  g_mutex_lock (&p->lock);
  g_array_append_val (p->lengths, length);
  p->sum += length;
  g_mutex_unlock (&p->lock);

  if (p->cancel_after_first)
    g_cancellable_cancel (p->cancel_after_first);
}

static Progress *
progress_new (void)
{
  Progress *p = g_new0 (Progress, 1);

  g_mutex_init (&p->lock);
  p->lengths = g_array_new (FALSE, FALSE, sizeof (guint64));
  return p;
}

static void
progress_free (gpointer data)
{
  Progress *p = data;

  g_array_unref (p->lengths);
  g_mutex_clear (&p->lock);
  g_free (p);
}

static Progress *
watch_progress (ImgxferCopy *copy)
{
  Progress *p = progress_new ();

  imgxfer_copy_set_progress_func (copy, on_progress, p, progress_free);
  return p;
}

/* A copy between two memory: images, with its progress watched. */
typedef struct
{
  ImgxferBackend *src;
  ImgxferBackend *dst;
  ImgxferCopy *copy;
  Progress *progress;
} Pair;

static Pair
pair_open (const char *src_url, const char *dst_url)
{
  Pair pair = { open_memory (src_url), open_memory (dst_url), NULL, NULL };

  return pair;
}

/* Creates the copy once the images are prepared; the counters of both
 * images start from here. */
static void
pair_copy (Pair *pair)
{
  reset (pair->src, pair->dst);
  pair->copy = imgxfer_copy_new (pair->src, pair->dst);
  pair->progress = watch_progress (pair->copy);
}

static void
pair_clear (Pair *pair)
{
  g_clear_object (&pair->copy);
  g_clear_object (&pair->src);
  g_clear_object (&pair->dst);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Pair, pair_clear)

static int
compare_lengths (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

  return x < y ? -1 : x > y;
}

/* Asserts the reported lengths, in any order. */
static void
assert_lengths (Progress *p, const guint64 *expected, guint n)
{
  g_autoptr (GArray) sorted = g_array_copy (p->lengths);
  g_autofree guint64 *want = g_memdup2 (expected, n * sizeof (guint64));

  g_array_sort (sorted, compare_lengths);
  qsort (want, n, sizeof (guint64), compare_lengths);
  g_assert_cmpmem (sorted->data, sorted->len * sizeof (guint64), want,
                   n * sizeof (guint64));
}

static void
run_ok (ImgxferCopy *copy)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (imgxfer_copy_run (copy, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_copy_get_done (copy), ==,
                    imgxfer_copy_get_total (copy));
}

static void
test_data_and_zero (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");

  fill (t.src, 0, 1 * MiB, 'a');
  fill (t.src, 2 * MiB, 4096 + 17, 'b');
  fill (t.dst, 0, 4 * MiB, 'x');

  pair_copy (&t);
  g_assert_cmpuint (imgxfer_copy_get_total (t.copy), ==, 4 * MiB);
  run_ok (t.copy);

  /* Only data is read and written; the rest is zeroed. */
  g_assert_cmpuint (bytes (t.src, IMGXFER_MEMORY_OP_READ), ==, 1 * MiB + 8192);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==,
                    1 * MiB + 8192);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_ZERO), ==,
                    4 * MiB - 1 * MiB - 8192);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 1);
  assert_same (t.src, t.dst, 4 * MiB);
}

static void
test_zero_runs_merged (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=16M", "memory:?size=16M");

  fill (t.src, 0, 4096, 'a');
  fill (t.dst, 0, 16 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 16 * MiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 1);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 1);
  g_assert_cmpuint (largest (t.dst, IMGXFER_MEMORY_OP_ZERO), ==,
                    16 * MiB - 4096);
  /* Sparse by default: zeroing may deallocate. */
  g_assert_cmpuint (imgxfer_memory_backend_get_trim_count (MEM (t.dst)), ==, 1);
  g_assert_cmpuint (imgxfer_memory_backend_get_stored_chunks (MEM (t.dst)), ==,
                    1);
}

/* Zero blocks inside data are found and zeroed, not written; data in
 * between keeps its exact bytes. */
static void
test_zero_detection (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=1M", "memory:?size=1M");

  /* Written zeroes are data to the source's extents. */
  fill (t.src, 0, 1 * MiB, 0);
  fill (t.src, 8192, 1, 'a');
  fill (t.src, 512 * KiB - 1, 2, 'b');
  fill (t.dst, 0, 1 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  g_assert_cmpuint (bytes (t.src, IMGXFER_MEMORY_OP_READ), ==, 1 * MiB);
  /* One block at 8192, two around 512 KiB. */
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 3 * 4096);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 2);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 3);
  assert_same (t.src, t.dst, 1 * MiB);
}

/* A destination preferring 64 KiB blocks gets data writes of whole
 * blocks: a zero 4 KiB block inside one is written, not zeroed. */
static void
test_zero_detection_preferred_block (void)
{
  g_auto (Pair) t
      = pair_open ("memory:?size=1M", "memory:?size=1M&preferred-block=64k");

  fill (t.src, 0, 1 * MiB, 0);
  fill (t.src, 64 * KiB + 4096, 1, 'a');
  fill (t.dst, 0, 1 * MiB, 'x');

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 100 * KiB);
  run_ok (t.copy);

  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 1);
  g_assert_cmpuint (largest (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 64 * KiB);
  /* Requests are whole blocks too: 100 KiB became 64 KiB. */
  g_assert_cmpuint (largest (t.src, IMGXFER_MEMORY_OP_READ), ==, 64 * KiB);
  assert_same (t.src, t.dst, 1 * MiB);
}

static void
test_not_sparse (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=2M", "memory:?size=2M");

  fill (t.src, 0, 1 * MiB, 0);
  fill (t.src, 4096, 100, 'a');
  fill (t.dst, 0, 2 * MiB, 'x');

  pair_copy (&t);
  imgxfer_copy_set_sparse (t.copy, FALSE);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 2 * MiB);
  /* All data is written as it is, and zeroing keeps allocation. */
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 1 * MiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 1);
  g_assert_cmpuint (imgxfer_memory_backend_get_trim_count (MEM (t.dst)), ==, 0);
  g_assert_cmpuint (imgxfer_memory_backend_get_stored_chunks (MEM (t.dst)), ==,
                    2 * MiB / 4096);
}

static void
test_target_is_zero (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  fill (t.src, 1 * MiB, 1 * MiB, 0);   /* data extent of zeroes */
  fill (t.src, 3 * MiB, 4096, 'a');

  pair_copy (&t);
  imgxfer_copy_set_target_is_zero (t.copy, TRUE);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 8 * MiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 1);
  /* Skipped ranges are progress too. */
  g_assert_cmpuint (t.progress->sum, ==, 8 * MiB);
}

static void
test_destination_declares_zero (void)
{
  g_auto (Pair) t
      = pair_open ("memory:?size=8M", "memory:?size=8M&is-zero=yes");

  fill (t.src, 3 * MiB, 4096, 'a');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 8 * MiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
}

/* A full copy zeroes holes; a shallow one leaves the destination's bytes
 * under them, so that a backing file would show through. */
static void
check_holes (gboolean shallow)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");

  fill (t.src, 0, 1 * MiB, 'a');
  fill (t.src, 3 * MiB, 1 * MiB, 'c');
  imgxfer_memory_backend_mark (MEM (t.src), 1 * MiB, 1 * MiB,
                               IMGXFER_EXTENT_HOLE);
  fill (t.dst, 0, 4 * MiB, 'x');

  pair_copy (&t);
  imgxfer_copy_set_shallow (t.copy, shallow);
  run_ok (t.copy);

  assert_bytes (t.dst, 0, 1 * MiB, 'a');
  assert_bytes (t.dst, 1 * MiB, 1 * MiB, shallow ? 'x' : 0);
  /* A zero range that is not a hole is zeroed either way. */
  assert_bytes (t.dst, 2 * MiB, 1 * MiB, 0);
  assert_bytes (t.dst, 3 * MiB, 1 * MiB, 'c');
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_ZERO), ==,
                    shallow ? 1 * MiB : 2 * MiB);
  g_assert_cmpuint (t.progress->sum, ==, 4 * MiB);
}

static void
test_hole_full (void)
{
  check_holes (FALSE);
}

static void
test_hole_shallow (void)
{
  check_holes (TRUE);
}

/* A zeroed range of a top layer hides its base: a shallow copy writes it
 * even onto a destination said to be zero, which with a backing file it
 * never is. */
static void
test_hole_shallow_target_is_zero (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=2M", "memory:?size=2M");

  fill (t.src, 0, 1 * MiB, 'a');
  imgxfer_memory_backend_mark (MEM (t.src), 1 * MiB, 512 * KiB,
                               IMGXFER_EXTENT_HOLE);
  fill (t.dst, 0, 2 * MiB, 'x');

  pair_copy (&t);
  imgxfer_copy_set_shallow (t.copy, TRUE);
  imgxfer_copy_set_target_is_zero (t.copy, TRUE);
  run_ok (t.copy);

  assert_bytes (t.dst, 0, 1 * MiB, 'a');
  assert_bytes (t.dst, 1 * MiB, 512 * KiB, 'x');
  assert_bytes (t.dst, 1 * MiB + 512 * KiB, 512 * KiB, 0);
  g_assert_cmpuint (t.progress->sum, ==, 2 * MiB);
}

static void
test_dirty_only (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");

  fill (t.src, 0, 3 * MiB, 'a');
  /* Dirty data, then a dirty range that reads as zeroes (never written),
   * then data and zeroes that are clean. */
  imgxfer_memory_backend_mark (MEM (t.src), 1 * MiB, 1 * MiB,
                               IMGXFER_EXTENT_DIRTY);
  imgxfer_memory_backend_mark (MEM (t.src), 3 * MiB, 64 * KiB,
                               IMGXFER_EXTENT_DIRTY);
  fill (t.dst, 0, 4 * MiB, 'x');

  pair_copy (&t);
  imgxfer_copy_set_dirty_only (t.copy, TRUE);
  run_ok (t.copy);

  assert_bytes (t.dst, 0, 1 * MiB, 'x');
  assert_bytes (t.dst, 1 * MiB, 1 * MiB, 'a');
  assert_bytes (t.dst, 2 * MiB, 1 * MiB, 'x');
  assert_bytes (t.dst, 3 * MiB, 64 * KiB, 0);
  assert_bytes (t.dst, 3 * MiB + 64 * KiB, 1 * MiB - 64 * KiB, 'x');
  g_assert_cmpuint (bytes (t.src, IMGXFER_MEMORY_OP_READ), ==, 1 * MiB);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 1 * MiB);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 64 * KiB);
  g_assert_cmpuint (t.progress->sum, ==, 4 * MiB);
}

static void
test_dirty_without_bitmap (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M&extents=no", "memory:?size=4M");
  g_autoptr (GError) error = NULL;

  pair_copy (&t);
  imgxfer_copy_set_dirty_only (t.copy, TRUE);
  g_assert_false (imgxfer_copy_run (t.copy, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 0);
}

/* No request is larger than the destination takes, zeroes included. */
static void
test_request_split (void)
{
  g_auto (Pair) t
      = pair_open ("memory:?size=3M", "memory:?size=3M&max-block=64k");

  fill (t.src, 0, 1 * MiB, 'a');
  fill (t.src, 2 * MiB, 1 * MiB, 'b');
  fill (t.dst, 0, 3 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 3 * MiB);
  g_assert_cmpuint (largest (t.src, IMGXFER_MEMORY_OP_READ), ==, 64 * KiB);
  g_assert_cmpuint (largest (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 64 * KiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 32);
  g_assert_cmpuint (largest (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 64 * KiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 16);
}

static void
test_request_size (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=2M", "memory:?size=2M");

  fill (t.src, 0, 2 * MiB, 'a');

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 256 * KiB);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 2 * MiB);
  g_assert_cmpuint (largest (t.src, IMGXFER_MEMORY_OP_READ), ==, 256 * KiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 8);
}

/* The source's own maximum bounds reads as well. */
static void
test_request_source_max (void)
{
  g_auto (Pair) t
      = pair_open ("memory:?size=1M&max-block=16k", "memory:?size=1M");

  fill (t.src, 0, 1 * MiB, 'a');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 1 * MiB);
  g_assert_cmpuint (largest (t.src, IMGXFER_MEMORY_OP_READ), ==, 16 * KiB);
}

/* The ovirt-imageio client's expectation for an image with a block of data
 * at the start of each half. */
static void
test_progress_lengths (void)
{
  const guint64 size = 8 * MiB;
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");
  const guint64 expected[]
      = { 4096, size / 2 - 4096, 4096, size / 2 - 4096 };

  fill (t.src, 0, 4096, 'b');
  fill (t.src, size / 2, 4096, 'b');

  pair_copy (&t);
  run_ok (t.copy);

  g_assert_cmpuint (t.progress->sum, ==, size);
  assert_lengths (t.progress, expected, G_N_ELEMENTS (expected));
}

/* The same with real files, whose holes come from SEEK_DATA. */
static void
test_progress_lengths_file (void)
{
  const guint64 size = 8 * MiB;
  char *dir = test_tmpdir_new ();
  g_autofree char *src_path = g_build_filename (dir, "src.raw", NULL);
  g_autofree char *dst_path = g_build_filename (dir, "dst.raw", NULL);
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  const guint64 expected[]
      = { 4096, size / 2 - 4096, 4096, size / 2 - 4096 };
  Progress *p;

  test_create_sparse (src_path, size);
  test_write_pattern (src_path, 0, 4096, 'b');
  test_write_pattern (src_path, size / 2, 4096, 'b');
  test_create_sparse (dst_path, size);

  src = test_open (src_path, FALSE);
  dst = test_open (dst_path, TRUE);
  copy = imgxfer_copy_new (src, dst);
  p = watch_progress (copy);
  run_ok (copy);

  g_assert_cmpuint (p->sum, ==, size);
  assert_lengths (p, expected, G_N_ELEMENTS (expected));
  test_assert_images_equal (src_path, "raw", dst_path, "raw", TRUE);

  g_clear_object (&copy);
  g_clear_object (&src);
  g_clear_object (&dst);
  test_tmpdir_free (dir);
}

/* An all-zero image is one progress report. */
static void
test_progress_empty_image (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");
  const guint64 expected[] = { 8 * MiB };

  pair_copy (&t);
  run_ok (t.copy);
  assert_lengths (t.progress, expected, G_N_ELEMENTS (expected));
}

typedef struct
{
  guint emissions;
  guint64 last_done;
  guint64 last_total;
  gboolean finished;
  gboolean ok;
  GError *error;
  GMainLoop *loop;
} SignalWatch;

static void
on_progress_signal (ImgxferCopy *copy,
                    guint64 done,
                    guint64 total,
                    gpointer data)
{
  SignalWatch *watch = data;

  /* Emitted on the caller's thread, in order. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_assert_cmpuint (done, >=, watch->last_done);
  g_assert_false (watch->finished);
  watch->emissions++;
  watch->last_done = done;
  watch->last_total = total;
}

static void
on_copy_done (GObject *object, GAsyncResult *result, gpointer data)
{
  SignalWatch *watch = data;

  watch->ok = imgxfer_copy_run_finish (IMGXFER_COPY (object), result,
                                       &watch->error);
  watch->finished = TRUE;
  if (watch->loop)
    g_main_loop_quit (watch->loop);
}

static void
test_async (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  SignalWatch watch = { .loop = loop };

  fill (t.src, 1 * MiB, 3 * MiB, 'a');
  pair_copy (&t);
  g_signal_connect (t.copy, "progress", G_CALLBACK (on_progress_signal),
                    &watch);

  imgxfer_copy_run_async (t.copy, NULL, on_copy_done, &watch);
  g_main_loop_run (loop);

  g_assert_no_error (watch.error);
  g_assert_true (watch.ok);
  g_assert_cmpuint (watch.emissions, >=, 1);
  g_assert_cmpuint (watch.last_done, ==, 8 * MiB);
  g_assert_cmpuint (watch.last_total, ==, 8 * MiB);
  assert_same (t.src, t.dst, 8 * MiB);
}

/* The synchronous run copies in the calling thread, iterating no main
 * context, so no signal comes; the progress function does, from the
 * workers, and the caller's thread ran the first of them. */
static void
on_progress_thread (guint64 length, gpointer data)
{
  GHashTable *threads = data;

  g_hash_table_add (threads, g_thread_self ());
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_sync_no_signal (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");
  SignalWatch watch = { 0 };
  g_autoptr (GHashTable) threads = g_hash_table_new (NULL, NULL);
  GSource *idle = g_idle_source_new ();
  gboolean idle_ran = FALSE;

  fill (t.src, 0, 4 * MiB, 'a');
  pair_copy (&t);
  imgxfer_copy_set_connections (t.copy, 1);
  imgxfer_copy_set_progress_func (t.copy, on_progress_thread, threads, NULL);
  g_signal_connect (t.copy, "progress", G_CALLBACK (on_progress_signal),
                    &watch);
  g_source_set_callback (idle, set_flag, &idle_ran, NULL);
  g_source_attach (idle, NULL);

  run_ok (t.copy);

  g_assert_cmpuint (watch.emissions, ==, 0);
  g_assert_false (idle_ran);
  g_assert_cmpuint (g_hash_table_size (threads), ==, 1);
  g_assert_true (g_hash_table_contains (threads, g_thread_self ()));
  g_assert_cmpuint (imgxfer_copy_get_done (t.copy), ==, 4 * MiB);
  g_source_destroy (idle);
  g_source_unref (idle);
}

static void
slow_progress (guint64 length, gpointer data)
{
  g_usleep (2000);
}

/* While an async copy goes on, "progress" comes now and then, never more
 * than ten times a second. */
static void
test_signal_throttled (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=16M", "memory:?size=16M");
  SignalWatch watch = { 0 };
  gint64 start, elapsed_ms;

  fill (t.src, 0, 16 * MiB, 'a');
  pair_copy (&t);
  imgxfer_copy_set_connections (t.copy, 1);
  imgxfer_copy_set_request_size (t.copy, 64 * KiB);
  imgxfer_copy_set_progress_func (t.copy, slow_progress, NULL, NULL);
  g_signal_connect (t.copy, "progress", G_CALLBACK (on_progress_signal),
                    &watch);

  start = g_get_monotonic_time ();
  watch.loop = g_main_loop_new (NULL, FALSE);
  imgxfer_copy_run_async (t.copy, NULL, on_copy_done, &watch);
  g_main_loop_run (watch.loop);
  g_clear_pointer (&watch.loop, g_main_loop_unref);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_no_error (watch.error);
  g_assert_true (watch.ok);

  g_test_message ("%u emissions in %" G_GINT64_FORMAT " ms", watch.emissions,
                  elapsed_ms);
  g_assert_cmpint (elapsed_ms, >=, 256 * 2);
  g_assert_cmpuint (watch.emissions, >=, 2);
  /* One per 100 ms at most, and the final one. */
  g_assert_cmpuint (watch.emissions, <=, elapsed_ms / 100 + 2);
  g_assert_cmpuint (watch.last_done, ==, 16 * MiB);
}

static void
assert_fails (ImgxferCopy *copy, GQuark domain, int code)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (imgxfer_copy_run (copy, NULL, &error));
  g_assert_error (error, domain, code);
  g_test_message ("error: %s", error->message);
}

/* A failed write fails the copy, whichever worker saw it, and nothing is
 * flushed after it. */
static void
test_write_error (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  fill (t.src, 0, 8 * MiB, 'a');
  imgxfer_memory_backend_fail_nth (MEM (t.dst), IMGXFER_MEMORY_OP_WRITE, 3);

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 256 * KiB);
  _imgxfer_copy_set_unit_size (t.copy, 1 * MiB);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);

  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 0);
  g_assert_cmpuint (t.progress->sum, <, 8 * MiB);
  g_assert_cmpuint (imgxfer_copy_get_done (t.copy), <, 8 * MiB);
}

static void
test_zero_error (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  pair_copy (&t);
  imgxfer_memory_backend_fail_nth (MEM (t.dst), IMGXFER_MEMORY_OP_ZERO, 1);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 0);
}

static void
test_read_error (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  fill (t.src, 0, 8 * MiB, 'a');
  imgxfer_memory_backend_fail_nth (MEM (t.src), IMGXFER_MEMORY_OP_READ, 2);

  pair_copy (&t);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 0);
}

static void
test_short_read (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  fill (t.src, 0, 8 * MiB, 'a');
  imgxfer_memory_backend_short_read_nth (MEM (t.src), 1);

  pair_copy (&t);
  assert_fails (t.copy, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ);
  /* What was read short is never written. */
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 0);
}

static void
test_extents_error (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  pair_copy (&t);
  imgxfer_memory_backend_fail_nth (MEM (t.src), IMGXFER_MEMORY_OP_EXTENTS, 1);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);
}

/* A failed flush fails the copy, even after every byte was written. */
static void
test_flush_error (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");

  fill (t.src, 0, 4 * MiB, 'a');
  imgxfer_memory_backend_fail_nth (MEM (t.dst), IMGXFER_MEMORY_OP_FLUSH, 1);

  pair_copy (&t);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);
  assert_same (t.src, t.dst, 4 * MiB);
}

/* With several connections, one failing flush fails the copy too. */
static void
test_flush_error_connections (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");

  fill (t.src, 0, 4 * MiB, 'a');
  imgxfer_memory_backend_fail_nth (MEM (t.dst), IMGXFER_MEMORY_OP_FLUSH, 2);

  pair_copy (&t);
  _imgxfer_copy_set_unit_size (t.copy, 1 * MiB);
  imgxfer_copy_set_connections (t.copy, 4);
  assert_fails (t.copy, G_IO_ERROR, G_IO_ERROR_FAILED);
}

static void
test_cancel (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=16M", "memory:?size=16M");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;

  fill (t.src, 0, 16 * MiB, 'a');

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 64 * KiB);
  _imgxfer_copy_set_unit_size (t.copy, 1 * MiB);
  t.progress->cancel_after_first = cancellable;

  g_assert_false (imgxfer_copy_run (t.copy, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Each worker finishes at most the request it was doing. */
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), <=, 4);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 0);
  g_assert_cmpuint (imgxfer_copy_get_done (t.copy), <, 16 * MiB);
}

static void
test_cancel_before (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;

  pair_copy (&t);
  g_cancellable_cancel (cancellable);
  g_assert_false (imgxfer_copy_run (t.copy, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, 0);
}

static void
test_cancel_async (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=16M", "memory:?size=16M");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  SignalWatch watch = { .loop = loop };

  fill (t.src, 0, 16 * MiB, 'a');
  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 64 * KiB);
  t.progress->cancel_after_first = cancellable;

  imgxfer_copy_run_async (t.copy, cancellable, on_copy_done, &watch);
  g_main_loop_run (loop);

  g_assert_false (watch.ok);
  g_assert_error (watch.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&watch.error);
}

/* Each worker has its own connections, and each is flushed. */
static void
check_connections (const char *dst_url, guint want, guint expected)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", dst_url);

  fill (t.src, 0, 8 * MiB, 'a');
  fill (t.src, 5 * MiB, 1 * MiB, 0);

  pair_copy (&t);
  imgxfer_copy_set_connections (t.copy, want);
  imgxfer_copy_set_request_size (t.copy, 256 * KiB);
  _imgxfer_copy_set_unit_size (t.copy, 1 * MiB);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 8 * MiB);
  g_assert_cmpuint (t.progress->sum, ==, 8 * MiB);
  g_assert_cmpuint (imgxfer_memory_backend_get_peak_connections (MEM (t.dst)),
                    ==, expected);
  g_assert_cmpuint (imgxfer_memory_backend_get_peak_connections (MEM (t.src)),
                    ==, expected);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_FLUSH), ==, expected);
  /* The clones are gone with the run. */
  g_assert_cmpuint (imgxfer_memory_backend_get_connections (MEM (t.dst)), ==,
                    expected);
}

static void
test_connections (void)
{
  check_connections ("memory:?size=8M", 4, 4);
}

static void
test_connections_limited (void)
{
  /* The destination allows two. */
  check_connections ("memory:?size=8M&max-connections=2", 4, 2);
}

static void
test_connections_units (void)
{
  /* Never more workers than units of work: one 128 MiB unit here. */
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");

  pair_copy (&t);
  imgxfer_copy_set_connections (t.copy, 4);
  run_ok (t.copy);
  g_assert_cmpuint (imgxfer_memory_backend_get_peak_connections (MEM (t.dst)),
                    ==, 1);
}

/* Units with nothing to read are claimed many at once: an empty range of
 * a thousand units costs far fewer calls of extents, and the data after
 * it, and in the last unit, is still copied. */
static void
test_empty_units (void)
{
  const guint64 size = 64 * MiB;
  g_auto (Pair) t
      = pair_open ("memory:?size=64M", "memory:?size=64M&is-zero=yes");

  fill (t.src, 0, PIECE, 'a');
  fill (t.src, 40 * MiB + 3 * PIECE, PIECE, 'b');
  fill (t.src, size - PIECE, PIECE, 'c');

  pair_copy (&t);
  _imgxfer_copy_set_unit_size (t.copy, 64 * KiB);
  imgxfer_copy_set_connections (t.copy, 4);
  run_ok (t.copy);

  assert_same (t.src, t.dst, size);
  g_assert_cmpuint (t.progress->sum, ==, size);
  /* One per unit without it; how many fewer depends on how the four
   * workers meet, but never less than 4x fewer. */
  g_assert_cmpuint (count (t.src, IMGXFER_MEMORY_OP_EXTENTS), <, 1024 / 4);
}

/* Data in the last, short block of an image survives zero detection. */
static void
test_unaligned_tail (void)
{
  const guint64 size = 4096 * 100 + 100;
  g_auto (Pair) t = pair_open ("memory:?size=409700", "memory:?size=409700");

  g_assert_cmpuint (imgxfer_backend_get_size (t.src), ==, size);
  fill (t.src, 0, size, 0);
  fill (t.src, size - 1, 1, 'z');
  fill (t.dst, 0, size, 'x');

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 64 * KiB);
  run_ok (t.copy);

  assert_same (t.src, t.dst, size);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 100);
  g_assert_cmpuint (largest (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 100);
}

static void
test_unaligned_tail_file (void)
{
  const guint64 size = 4096 * 300 + 100;
  char *dir = test_tmpdir_new ();
  g_autofree char *src_path = g_build_filename (dir, "src.raw", NULL);
  g_autofree char *dst_path = g_build_filename (dir, "dst.raw", NULL);
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  test_write_pattern (src_path, 0, size, 0);
  test_write_pattern (src_path, size - 100, 100, 't');
  test_write_pattern (dst_path, 0, size, 'x');

  src = test_open (src_path, FALSE);
  dst = test_open (dst_path, TRUE);
  copy = imgxfer_copy_new (src, dst);
  run_ok (copy);
  g_clear_object (&dst);

  g_assert_true (g_file_get_contents (dst_path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, size);
  for (guint i = 0; i < 100; i++)
    g_assert_cmpint (contents[size - 100 + i], ==, 't');
  test_assert_images_equal (src_path, "raw", dst_path, "raw", FALSE);

  g_clear_object (&copy);
  g_clear_object (&src);
  test_tmpdir_free (dir);
}

/* A sparse file copied to a new file stays sparse. */
static void
test_file_sparse (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *src_path = g_build_filename (dir, "src.raw", NULL);
  g_autofree char *dst_path = g_build_filename (dir, "dst.raw", NULL);
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;

  test_create_sparse (src_path, 32 * MiB);
  test_write_pattern (src_path, 1 * MiB, 1 * MiB, 'a');
  /* Zeroes written as data must come out as a hole. */
  test_write_pattern (src_path, 2 * MiB, 1 * MiB, 0);
  test_write_pattern (src_path, 30 * MiB, 4096, 'b');
  test_create_sparse (dst_path, 32 * MiB);

  src = test_open (src_path, FALSE);
  dst = test_open (dst_path, TRUE);
  copy = imgxfer_copy_new (src, dst);
  imgxfer_copy_set_target_is_zero (copy, TRUE);
  run_ok (copy);

  test_assert_images_equal (src_path, "raw", dst_path, "raw", FALSE);
  extents = imgxfer_image_extents (dst, IMGXFER_EXTENT_CONTEXT_ZERO, NULL,
                                   &error);
  g_assert_no_error (error);
  g_assert_cmpuint (extents->len, ==, 5);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 1).start, ==,
                    1 * MiB);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 1).length, ==,
                    1 * MiB);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 3).start, ==,
                    30 * MiB);
  g_assert_cmpuint (g_array_index (extents, ImgxferExtent, 3).length, ==,
                    4096);

  g_clear_object (&copy);
  g_clear_object (&src);
  g_clear_object (&dst);
  test_tmpdir_free (dir);
}

/* Real files with several connections: each worker its own descriptors. */
static void
test_file_connections (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *src_path = g_build_filename (dir, "src.raw", NULL);
  g_autofree char *dst_path = g_build_filename (dir, "dst.raw", NULL);
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  Progress *p;

  test_create_sparse (src_path, 16 * MiB + 4096 + 7);
  for (guint i = 0; i < 16; i += 3)
    test_write_pattern (src_path, i * MiB + 512, 600 * KiB, 'a' + i);
  test_write_pattern (src_path, 16 * MiB + 4096, 7, 'z');
  test_write_pattern (dst_path, 0, 16 * MiB + 4096 + 7, 'x');

  src = test_open (src_path, FALSE);
  dst = test_open (dst_path, TRUE);
  copy = imgxfer_copy_new (src, dst);
  imgxfer_copy_set_connections (copy, 4);
  imgxfer_copy_set_request_size (copy, 256 * KiB);
  _imgxfer_copy_set_unit_size (copy, 1 * MiB);
  p = watch_progress (copy);
  run_ok (copy);

  /* The source is seen at its size rounded up to 512. */
  g_assert_cmpuint (p->sum, ==, 16 * MiB + 4096 + 512);
  test_assert_images_equal (src_path, "raw", dst_path, "raw", FALSE);

  g_clear_object (&copy);
  g_clear_object (&src);
  g_clear_object (&dst);
  test_tmpdir_free (dir);
}

static void
test_empty_source (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=0", "memory:?size=1M");

  fill (t.dst, 0, 1 * MiB, 'x');
  pair_copy (&t);
  run_ok (t.copy);

  g_assert_cmpuint (imgxfer_copy_get_total (t.copy), ==, 0);
  g_assert_cmpuint (t.progress->lengths->len, ==, 0);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 0);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
  assert_bytes (t.dst, 0, 1 * MiB, 'x');
}

static void
test_smaller_destination (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=3M");
  g_autoptr (GError) error = NULL;

  pair_copy (&t);
  g_assert_false (imgxfer_copy_run (t.copy, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "smaller"));
  g_assert_cmpuint (count (t.src, IMGXFER_MEMORY_OP_READ), ==, 0);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_WRITE)
                        + count (t.dst, IMGXFER_MEMORY_OP_ZERO),
                    ==, 0);
}

/* Like qemu-img convert -n: the bytes past the source's size stay. */
static void
test_bigger_destination (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=2M", "memory:?size=3M");

  fill (t.src, 0, 1 * MiB, 'a');
  fill (t.dst, 0, 3 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 2 * MiB);
  assert_bytes (t.dst, 2 * MiB, 1 * MiB, 'x');
  g_assert_cmpuint (t.progress->sum, ==, 2 * MiB);
}

static void
test_read_only_destination (void)
{
  g_autoptr (ImgxferBackend) src = open_memory ("memory:?size=1M");
  g_autoptr (ImgxferBackend) dst = test_open ("memory:?size=1M", FALSE);
  g_autoptr (ImgxferCopy) copy = imgxfer_copy_new (src, dst);

  assert_fails (copy, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
}

/* A source without extents is read whole; zero detection still keeps
 * zeroes out of the writes. */
static void
test_source_without_extents (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M&extents=no", "memory:?size=4M");

  fill (t.src, 1 * MiB, 4096, 'a');
  fill (t.dst, 0, 4 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  g_assert_cmpuint (bytes (t.src, IMGXFER_MEMORY_OP_READ), ==, 4 * MiB);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 4096);
  assert_same (t.src, t.dst, 4 * MiB);
}

/* A destination without efficient zeroing gets zeroes written. */
static void
test_destination_without_zero (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M&zero=no");

  fill (t.src, 0, 4096, 'a');
  fill (t.dst, 0, 4 * MiB, 'x');

  pair_copy (&t);
  run_ok (t.copy);

  assert_same (t.src, t.dst, 4 * MiB);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
  g_assert_cmpuint (bytes (t.dst, IMGXFER_MEMORY_OP_WRITE), ==, 4 * MiB);
}

/* The observer sees each range once; data comes with its bytes. */
typedef struct
{
  GMutex lock;
  guint64 covered;
  guint64 data;
  guint64 zero;
  guint64 hole;
} Observed;

static void
on_observe (guint64 offset,
            guint64 length,
            const void *data,
            ImgxferExtentFlags flags,
            gpointer user_data)
{
  Observed *o = user_data;

  g_mutex_lock (&o->lock);
  o->covered += length;
  if (data)
    {
      g_assert_cmpuint (flags, ==, IMGXFER_EXTENT_DATA);
      g_assert_cmpint (((const guint8 *)data)[0], ==, 'a');
      o->data += length;
    }
  else if (flags & IMGXFER_EXTENT_HOLE)
    o->hole += length;
  else
    {
      g_assert_true (flags & IMGXFER_EXTENT_ZERO);
      o->zero += length;
    }
  g_mutex_unlock (&o->lock);
}

static void
test_observer (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=8M", "memory:?size=8M");
  Observed o = { 0 };

  fill (t.src, 0, 2 * MiB, 'a');
  imgxfer_memory_backend_mark (MEM (t.src), 4 * MiB, 1 * MiB,
                               IMGXFER_EXTENT_HOLE);

  pair_copy (&t);
  imgxfer_copy_set_request_size (t.copy, 256 * KiB);
  _imgxfer_copy_set_unit_size (t.copy, 1 * MiB);
  imgxfer_copy_set_shallow (t.copy, TRUE);
  _imgxfer_copy_set_observer (t.copy, on_observe, &o);
  run_ok (t.copy);

  g_assert_cmpuint (o.covered, ==, 8 * MiB);
  g_assert_cmpuint (o.data, ==, 2 * MiB);
  g_assert_cmpuint (o.hole, ==, 1 * MiB);
  g_assert_cmpuint (o.zero, ==, 5 * MiB);
}

/* A checksum fed by the copy equals the one computed by reading the
 * source, with data split over units, zero extents and holes. */
static void
test_checksum (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=9M", "memory:?size=9M");
  g_autoptr (ImgxferChecksum) checksum = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  g_autoptr (GError) error = NULL;

  fill (t.src, 0, 3 * MiB + 123, 'a');
  fill (t.src, 5 * MiB - 10, 20, 'b');
  fill (t.src, 8 * MiB, 1 * MiB, 0);
  imgxfer_memory_backend_mark (MEM (t.src), 6 * MiB, 1 * MiB,
                               IMGXFER_EXTENT_HOLE);
  expected = imgxfer_checksum_compute (t.src, NULL, 1 * MiB, 1, NULL, &error);
  g_assert_no_error (error);

  checksum = imgxfer_checksum_new (NULL, 1 * MiB, 9 * MiB, &error);
  g_assert_no_error (error);
  pair_copy (&t);
  _imgxfer_copy_set_unit_size (t.copy, 2 * MiB);
  imgxfer_copy_set_request_size (t.copy, 768 * KiB);
  imgxfer_copy_set_shallow (t.copy, TRUE);
  imgxfer_copy_set_checksum (t.copy, checksum);
  run_ok (t.copy);

  actual = imgxfer_checksum_finish (checksum, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (actual, ==, expected);
}

static void
test_checksum_refused (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=4M", "memory:?size=4M");
  g_autoptr (ImgxferChecksum) checksum = NULL;
  g_autoptr (ImgxferChecksum) wrong_size = NULL;
  g_autoptr (GError) error = NULL;

  checksum = imgxfer_checksum_new (NULL, 0, 4 * MiB, &error);
  g_assert_no_error (error);
  wrong_size = imgxfer_checksum_new (NULL, 0, 3 * MiB, &error);
  g_assert_no_error (error);
  pair_copy (&t);

  /* A dirty-only copy does not see the clean ranges. */
  imgxfer_copy_set_dirty_only (t.copy, TRUE);
  imgxfer_copy_set_checksum (t.copy, checksum);
  assert_fails (t.copy, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);

  imgxfer_copy_set_dirty_only (t.copy, FALSE);
  imgxfer_copy_set_checksum (t.copy, wrong_size);
  assert_fails (t.copy, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (count (t.dst, IMGXFER_MEMORY_OP_ZERO), ==, 0);
}

/* A copy can run again, and copies everything again. */
static void
test_run_twice (void)
{
  g_auto (Pair) t = pair_open ("memory:?size=2M", "memory:?size=2M");

  fill (t.src, 0, 1 * MiB, 'a');
  pair_copy (&t);
  run_ok (t.copy);
  fill (t.dst, 0, 2 * MiB, 'x');
  run_ok (t.copy);
  assert_same (t.src, t.dst, 2 * MiB);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/copy/data/data-and-zero", test_data_and_zero);
  g_test_add_func ("/copy/data/unaligned-tail", test_unaligned_tail);
  g_test_add_func ("/copy/data/unaligned-tail-file",
                   test_unaligned_tail_file);
  g_test_add_func ("/copy/data/source-without-extents",
                   test_source_without_extents);
  g_test_add_func ("/copy/data/run-twice", test_run_twice);
  g_test_add_func ("/copy/sparse/zero-runs-merged", test_zero_runs_merged);
  g_test_add_func ("/copy/sparse/zero-detection", test_zero_detection);
  g_test_add_func ("/copy/sparse/zero-detection-preferred-block",
                   test_zero_detection_preferred_block);
  g_test_add_func ("/copy/sparse/not-sparse", test_not_sparse);
  g_test_add_func ("/copy/sparse/file", test_file_sparse);
  g_test_add_func ("/copy/sparse/destination-without-zero",
                   test_destination_without_zero);
  g_test_add_func ("/copy/target-is-zero/option", test_target_is_zero);
  g_test_add_func ("/copy/target-is-zero/declared",
                   test_destination_declares_zero);
  g_test_add_func ("/copy/hole/full", test_hole_full);
  g_test_add_func ("/copy/hole/shallow", test_hole_shallow);
  g_test_add_func ("/copy/hole/shallow-target-is-zero",
                   test_hole_shallow_target_is_zero);
  g_test_add_func ("/copy/dirty/only-dirty", test_dirty_only);
  g_test_add_func ("/copy/dirty/no-bitmap", test_dirty_without_bitmap);
  g_test_add_func ("/copy/request/split-at-destination-max",
                   test_request_split);
  g_test_add_func ("/copy/request/size", test_request_size);
  g_test_add_func ("/copy/request/source-max", test_request_source_max);
  g_test_add_func ("/copy/progress/lengths", test_progress_lengths);
  g_test_add_func ("/copy/progress/lengths-file", test_progress_lengths_file);
  g_test_add_func ("/copy/progress/empty-image", test_progress_empty_image);
  g_test_add_func ("/copy/progress/sync-no-signal", test_sync_no_signal);
  g_test_add_func ("/copy/progress/signal-throttled", test_signal_throttled);
  g_test_add_func ("/copy/progress/observer", test_observer);
  g_test_add_func ("/copy/checksum/same-pass", test_checksum);
  g_test_add_func ("/copy/checksum/refused", test_checksum_refused);
  g_test_add_func ("/copy/async/run", test_async);
  g_test_add_func ("/copy/async/cancel", test_cancel_async);
  g_test_add_func ("/copy/error/write", test_write_error);
  g_test_add_func ("/copy/error/zero", test_zero_error);
  g_test_add_func ("/copy/error/read", test_read_error);
  g_test_add_func ("/copy/error/short-read", test_short_read);
  g_test_add_func ("/copy/error/extents", test_extents_error);
  g_test_add_func ("/copy/error/flush", test_flush_error);
  g_test_add_func ("/copy/error/flush-connections",
                   test_flush_error_connections);
  g_test_add_func ("/copy/error/read-only-destination",
                   test_read_only_destination);
  g_test_add_func ("/copy/cancel/during", test_cancel);
  g_test_add_func ("/copy/cancel/before", test_cancel_before);
  g_test_add_func ("/copy/connections/several", test_connections);
  g_test_add_func ("/copy/connections/limited", test_connections_limited);
  g_test_add_func ("/copy/connections/units", test_connections_units);
  g_test_add_func ("/copy/connections/empty-units", test_empty_units);
  g_test_add_func ("/copy/connections/files", test_file_connections);
  g_test_add_func ("/copy/size/empty-source", test_empty_source);
  g_test_add_func ("/copy/size/smaller-destination",
                   test_smaller_destination);
  g_test_add_func ("/copy/size/bigger-destination", test_bigger_destination);

  return g_test_run ();
}
