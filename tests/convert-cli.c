/* convert-cli.c: `imgxfer convert` on real files with real holes, real
 * qcow2 chains made by qemu-img, and the example driver module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER_SIZE (64 * KiB)

/* The example module's pattern: byte i is i % 251. */
#define PATTERN_PERIOD 251

/* Each test gets a new folder, with the paths of a source and a
 * destination in it (neither is created). */
typedef struct
{
  char *dir;
  char *src;
  char *dst;
} Paths;

static void
paths_setup (Paths *p, gconstpointer data)
{
  p->dir = test_tmpdir_new ();
  p->src = g_build_filename (p->dir, "src.raw", NULL);
  p->dst = g_build_filename (p->dir, "dst.raw", NULL);
}

static void
paths_teardown (Paths *p, gconstpointer data)
{
  g_free (p->src);
  g_free (p->dst);
  test_tmpdir_free (p->dir);
}

/* A run of data in a file, as SEEK_DATA/SEEK_HOLE report it. */
typedef struct
{
  guint64 start;
  guint64 end;
} DataRange;

static GArray *
data_ranges (const char *path)
{
  GArray *ranges = g_array_new (FALSE, FALSE, sizeof (DataRange));
  int fd = g_open (path, O_RDONLY, 0);
  off_t offset = 0;

  g_assert_cmpint (fd, >=, 0);
  for (;;)
    {
      DataRange range;
      off_t data = lseek (fd, offset, SEEK_DATA);

      if (data < 0)
        {
          g_assert_cmpint (errno, ==, ENXIO);
          break;
        }
      range.start = data;
      range.end = lseek (fd, data, SEEK_HOLE);
      g_array_append_val (ranges, range);
      offset = range.end;
    }
  close (fd);
  return ranges;
}

static void
assert_data_ranges (const char *path, const DataRange *expected, guint n)
{
  g_autoptr (GArray) ranges = data_ranges (path);

  for (guint i = 0; i < ranges->len; i++)
    g_test_message ("%s: data %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                    path, g_array_index (ranges, DataRange, i).start,
                    g_array_index (ranges, DataRange, i).end);
  g_assert_cmpuint (ranges->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (g_array_index (ranges, DataRange, i).start, ==,
                        expected[i].start);
      g_assert_cmpuint (g_array_index (ranges, DataRange, i).end, ==,
                        expected[i].end);
    }
}

/* The two files hold the same raw image, as it is seen: at its size
 * rounded up to 512, the tail reading as zeroes. A copy of a file whose
 * size is not a multiple of 512 has the rounded size, as qemu-img's. */
static void
assert_same_bytes (const char *path1, const char *path2)
{
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  gsize a_len, b_len, seen;

  g_assert_true (g_file_get_contents (path1, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (path2, &b, &b_len, NULL));
  seen = (a_len + 511) & ~(gsize)511;
  g_assert_cmpuint ((b_len + 511) & ~(gsize)511, ==, seen);
  a = g_realloc (a, seen + 1);
  b = g_realloc (b, seen + 1);
  memset (a + a_len, 0, seen - a_len);
  memset (b + b_len, 0, seen - b_len);
  g_assert_cmpmem (a, seen, b, seen);
}

/* Runs `imgxfer convert ARGS...`, asserting the exit status. */
static void
convert_ok (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, "convert");
  for (; *args; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);

  status = test_run_cli ((const char *const *)argv->pdata, NULL, &err);
  if (status != 0)
    g_error ("imgxfer convert: exit %d: %s", status, err);
}

/* Runs the command line with the driver modules of @driver_path and, when
 * @fatal_warnings is FALSE, without G_DEBUG=fatal-warnings (to see a
 * warning instead of a crash). */
static GSubprocess *
spawn_cli (const char *driver_path,
           gboolean fatal_warnings,
           const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_subprocess_launcher_setenv (launcher, "IMGXFER_DRIVER_PATH",
                                driver_path ? driver_path : "", TRUE);
  if (!fatal_warnings)
    g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  return test_spawn_cli (launcher, args);
}

static int
run_cli_with_modules (const char *driver_path,
                      gboolean fatal_warnings,
                      const char *const *args,
                      char **out,
                      char **err)
{
  g_autoptr (GSubprocess) process
      = spawn_cli (driver_path, fatal_warnings, args);

  return test_wait_process (process, out, err);
}

static char *
example_module_dir (void)
{
  return g_build_filename (g_getenv ("IMGXFER_BUILD_DIR"), "docs", "examples",
                           "driver-module", NULL);
}

/* TRUE when the library has a driver for @format (the qemu driver). */
static gboolean
have_format (const char *format)
{
  const char *const args[] = { "drivers", NULL };
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      const char *formats = strstr (lines[i], "formats: ");
      g_auto (GStrv) names = NULL;

      if (formats == NULL)
        continue;
      names = g_strsplit_set (formats + strlen ("formats: "), ", ", -1);
      if (g_strv_contains ((const char *const *)names, format))
        return TRUE;
    }
  return FALSE;
}

static gboolean
skip_without_format (const char *format)
{
  if (have_format (format))
    return FALSE;
  g_test_skip_printf ("no driver for %s", format);
  return TRUE;
}

/* Holes are kept: the destination has data exactly where the source has. */
static void
test_sparse (Paths *p, gconstpointer data)
{
  const char *const args[] = { p->src, p->dst, NULL };
  const DataRange expected[] = {
    { 2 * MiB, 3 * MiB },
    { 6 * MiB, 6 * MiB + 64 * KiB },
  };

  test_create_sparse (p->src, 8 * MiB);
  test_write_pattern (p->src, 2 * MiB, 1 * MiB, 'a');
  test_write_pattern (p->src, 6 * MiB, 64 * KiB, 'b');
  assert_data_ranges (p->src, expected, G_N_ELEMENTS (expected));

  convert_ok (args);

  g_assert_cmpuint (test_file_size (p->dst), ==, 8 * MiB);
  test_assert_images_equal (p->src, "raw", p->dst, "raw", FALSE);
  assert_data_ranges (p->dst, expected, G_N_ELEMENTS (expected));
}

/* Data blocks that happen to hold zeroes become holes too. */
static void
test_zero_data_becomes_hole (Paths *p, gconstpointer data)
{
  const char *const args[] = { p->src, p->dst, NULL };
  const DataRange src_data[] = { { 0, 2 * MiB } };
  const DataRange dst_data[] = { { 1 * MiB, 1 * MiB + 4 * KiB } };

  test_write_pattern (p->src, 0, 2 * MiB, 0);
  test_write_pattern (p->src, 1 * MiB, 4 * KiB, 'x');
  assert_data_ranges (p->src, src_data, G_N_ELEMENTS (src_data));

  convert_ok (args);

  test_assert_images_equal (p->src, "raw", p->dst, "raw", FALSE);
  assert_data_ranges (p->dst, dst_data, G_N_ELEMENTS (dst_data));
}

/* Size 4096 * k + 100, data in the last bytes. */
static void
test_unaligned_tail (Paths *p, gconstpointer data)
{
  const char *cache = data;
  const guint64 size = 4096 * 257 + 100;
  const char *const args[] = { "-t", cache, "-T", cache, p->src, p->dst,
                               NULL };

  test_create_sparse (p->src, size);
  test_write_pattern (p->src, 4096, 4096, 'h');
  test_write_pattern (p->src, size - 100, 100, 't');

  convert_ok (args);

  /* As qemu-img converts it: rounded up to 512, the tail zeroes. */
  g_assert_cmpuint (test_file_size (p->dst), ==, 4096 * 257 + 512);
  assert_same_bytes (p->src, p->dst);
}

static void
test_empty (Paths *p, gconstpointer data)
{
  const char *const args[] = { "-p", p->src, p->dst, NULL };

  test_create_sparse (p->src, 0);
  convert_ok (args);
  g_assert_cmpuint (test_file_size (p->dst), ==, 0);
}

/* An existing destination is replaced, as qemu-img convert does. */
static void
test_replace_existing (Paths *p, gconstpointer data)
{
  const char *const args[] = { p->src, p->dst, NULL };

  test_create_sparse (p->src, 1 * MiB);
  test_write_pattern (p->src, 4096, 4096, 's');
  test_write_pattern (p->dst, 0, 3 * MiB, 'd');

  convert_ok (args);

  g_assert_cmpuint (test_file_size (p->dst), ==, 1 * MiB);
  assert_same_bytes (p->src, p->dst);
}

/* -n writes into an existing image, which is not known to be zero: the
 * source's holes must be zeroed there. */
static void
test_no_create (Paths *p, gconstpointer data)
{
  const char *const args[] = { "-n", p->src, p->dst, NULL };

  test_create_sparse (p->src, 2 * MiB);
  test_write_pattern (p->src, 1 * MiB, 4096, 's');
  test_write_pattern (p->dst, 0, 2 * MiB, 'd');

  convert_ok (args);

  assert_same_bytes (p->src, p->dst);
}

/* --target-is-zero is believed: the source's holes are not zeroed, so
 * what the destination held there stays (the user's promise was false
 * here, which is what makes the skip visible). */
static void
test_target_is_zero (Paths *p, gconstpointer data)
{
  const char *const args[] = { "-n", "--target-is-zero", p->src, p->dst,
                               NULL };
  g_autofree char *contents = NULL;
  gsize length;

  test_create_sparse (p->src, 2 * MiB);
  test_write_pattern (p->src, 1 * MiB, 4096, 's');
  test_write_pattern (p->dst, 0, 2 * MiB, 'd');

  convert_ok (args);

  g_assert_true (g_file_get_contents (p->dst, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, 2 * MiB);
  g_assert_cmpint (contents[0], ==, 'd');
  g_assert_cmpint (contents[1 * MiB], ==, 's');
  g_assert_cmpint (contents[2 * MiB - 1], ==, 'd');
}

static void
test_no_create_too_small (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", "-n", p->src, p->dst, NULL };
  g_autofree char *err = NULL;

  test_create_sparse (p->src, 2 * MiB);
  test_create_sparse (p->dst, 1 * MiB);

  g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, p->dst));
  g_assert_cmpuint (test_file_size (p->dst), ==, 1 * MiB);
}

/* Creating the destination would truncate the source. */
static void
test_same_file (Paths *p, gconstpointer data)
{
  g_autofree char *other = g_build_filename (p->dir, ".", "src.raw", NULL);
  const char *const args[] = { "convert", p->src, other, NULL };
  g_autofree char *err = NULL;

  test_write_pattern (p->src, 0, 64 * KiB, 's');
  g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, other));
  g_assert_cmpuint (test_file_size (p->src), ==, 64 * KiB);
}

/* One line naming the file, exit 1. */
static void
assert_one_line_error (const char *err, const char *name)
{
  g_assert_true (g_str_has_prefix (err, "imgxfer: "));
  g_assert_nonnull (strstr (err, name));
  g_assert_cmpint (strchr (err, '\n') - err, ==, strlen (err) - 1);
}

static void
test_missing_source (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", p->src, p->dst, NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 1);
  assert_one_line_error (err, p->src);
  g_assert_false (g_file_test (p->dst, G_FILE_TEST_EXISTS));
}

/* The tests run as root, which ignores permission bits, so an unwritable
 * destination is made from what fails for root too: a folder that does
 * not exist (ENOENT) and a path through a regular file (ENOTDIR). */
static void
test_unwritable_destination (Paths *p, gconstpointer data)
{
  g_autofree char *missing_dir
      = g_build_filename (p->dir, "no-such-dir", "dst.raw", NULL);
  g_autofree char *through_file
      = g_build_filename (p->dir, "src.raw", "dst.raw", NULL);
  const char *const destinations[] = { missing_dir, through_file };

  test_create_sparse (p->src, 1 * MiB);
  for (guint i = 0; i < G_N_ELEMENTS (destinations); i++)
    {
      const char *const args[] = { "convert", p->src, destinations[i], NULL };
      g_autofree char *err = NULL;

      g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 1);
      assert_one_line_error (err, destinations[i]);
    }
}

static void
test_progress (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", "-p", p->src, p->dst, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  test_create_sparse (p->src, 4 * MiB);
  test_write_pattern (p->src, 0, 1 * MiB, 'p');

  g_assert_cmpint (test_run_cli (args, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "    (0.00/100%)\r"));
  g_assert_true (g_str_has_suffix (err, "    (100.00/100%)\r\n"));
}

static void
test_json_summary (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", "--output=json", p->src, p->dst,
                               NULL };
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *summary;

  test_create_sparse (p->src, 3 * MiB);
  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);

  root = test_parse_json (out);
  summary = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (summary, "source"), ==,
                   p->src);
  g_assert_cmpstr (json_object_get_string_member (summary, "destination"),
                   ==, p->dst);
  g_assert_cmpstr (
      json_object_get_string_member (summary, "destination-format"), ==,
      "raw");
  g_assert_cmpint (json_object_get_int_member (summary, "size"), ==,
                   3 * MiB);
  g_assert_cmpfloat (json_object_get_double_member (summary, "seconds"), >=,
                     0);
  g_assert_false (json_object_has_member (summary, "checksum"));
}

/* The blkhash of 3 MiB + 123 bytes of i % 251 in 4 MiB blocks, in a raw
 * file seen as 3 MiB + 512 bytes, the tail zeroes (as imageio's client
 * sees it; computed with Python's hashlib). */
static void
test_checksum (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", "--output=json", "--checksum",
                               p->src, p->dst, NULL };
  const gsize size = 3 * MiB + 123;
  g_autofree guint8 *bytes = g_malloc (size);
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *checksum;

  for (gsize i = 0; i < size; i++)
    bytes[i] = i % PATTERN_PERIOD;
  g_assert_true (g_file_set_contents (p->src, (char *)bytes, size, NULL));

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  root = test_parse_json (out);
  checksum = json_object_get_object_member (json_node_get_object (root),
                                            "checksum");
  g_assert_cmpstr (json_object_get_string_member (checksum, "algorithm"), ==,
                   "blake2b");
  g_assert_cmpint (json_object_get_int_member (checksum, "block_size"), ==,
                   4 * MiB);
  g_assert_cmpstr (
      json_object_get_string_member (checksum, "checksum"), ==,
      "ba7b985cf829ee6b4aa04fa4222ac6d02134c9c83cae79c819334cd31ed281d8");
}

/* A sparse source (zero extents are hashed without being read), another
 * algorithm, the human output: "CHECKSUM  DST". */
static void
test_checksum_sparse (Paths *p, gconstpointer data)
{
  const char *const args[] = { "convert", "--checksum=sha1", p->src, p->dst,
                               NULL };
  g_autofree char *out = NULL;
  g_autofree char *expected = g_strconcat (
      "d3936edd8e3a8ff10e8257a9f460d8da67838549  ", p->dst, "\n", NULL);

  g_assert_true (g_file_set_contents (p->src, "data", 4, NULL));
  g_assert_cmpint (truncate (p->src, 5 * MiB), ==, 0);
  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, expected);
}

static void
test_usage_errors (void)
{
  const char *const *cases[] = {
    (const char *const[]){ "convert", NULL },
    (const char *const[]){ "convert", "src", NULL },
    (const char *const[]){ "convert", "a", "b", "c", NULL },
    (const char *const[]){ "convert", "--request-size=12q", "a", "b", NULL },
    (const char *const[]){ "convert", "--request-size=0", "a", "b", NULL },
    (const char *const[]){ "convert", "-B", "base", "a", "b", NULL },
    (const char *const[]){ "convert", "-O", "raw", "-B", "base", "a", "b",
                           NULL },
    (const char *const[]){ "convert", "-F", "raw", "a", "b", NULL },
    (const char *const[]){ "convert", "-n", "-O", "qcow2", "-B", "base", "a",
                           "b", NULL },
    (const char *const[]){ "convert", "--output=xml", "a", "b", NULL },
    (const char *const[]){ "convert", "--connections=-1", "a", "b", NULL },
    (const char *const[]){ "convert", "-t", "sometimes", "a", "b", NULL },
    (const char *const[]){ "convert", "--checksum=crc7", "a", "b", NULL },
    (const char *const[]){ "convert", "--checksum", "--bitmap", "b0", "a",
                           "b", NULL },
    (const char *const[]){ "convert", "--no-such-option", "a", "b", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *line = g_strjoinv (" ", (char **)cases[i]);

      g_test_message ("imgxfer %s", line);
      g_assert_cmpint (test_run_cli (cases[i], NULL, &err), ==, 2);
      g_assert_nonnull (strstr (err, "imgxfer convert --help"));
    }
}

/* Ctrl-C once the copy runs: exit 4, nothing reported complete, and no
 * helper process (qemu-nbd) left behind. */
static void
test_cancel (Paths *p, gconstpointer data)
{
  const char *source = data;
  g_autofree char *modules = example_module_dir ();
  g_autofree char *qcow2 = g_build_filename (p->dir, "src.qcow2", NULL);
  const char *const args[] = { "convert", "-p", "--output=json",
                               "--request-size=64k", "--connections=1",
                               source ? qcow2 : "pattern:64g", p->dst,
                               NULL };
  const char *pgrep[] = { "pgrep", "-f", p->dir, NULL };
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (source)
    {
      const char *const create[] = { "convert", "-O", "qcow2", source, qcow2,
                                     NULL };

      if (skip_without_format ("qcow2"))
        return;
      g_assert_cmpint (run_cli_with_modules (modules, TRUE, create, NULL,
                                             NULL),
                       ==, 0);
    }

  process = spawn_cli (modules, TRUE, args);
  test_wait_for_progress (process);
  g_subprocess_send_signal (process, SIGINT);

  g_assert_cmpint (test_wait_process (process, &out, &err), ==, 4);
  g_assert_cmpstr (out, ==, "");
  g_assert_null (strstr (err, "100.00/100%"));
  g_assert_nonnull (strstr (err, "imgxfer: "));
  g_assert_cmpint (test_run (pgrep, NULL, NULL), ==, 1);
}

/* qcow2's dirty bit, read from the header. */
static gboolean
qcow2_is_dirty (const char *path)
{
  guint64 features = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, &features, sizeof features, 72), ==,
                   sizeof features);
  close (fd);
  return GUINT64_FROM_BE (features) & 1;
}

/* Ctrl-C during a copy into a new qcow2 (once it has written data): exit
 * 4, and the image still says that it is not consistent (qcow2's dirty
 * bit), so that nothing takes it for a finished copy and qemu repairs it
 * before writing to it. */
static void
test_cancel_to_qcow2 (Paths *p, gconstpointer data)
{
  g_autofree char *modules = example_module_dir ();
  g_autofree char *qcow2 = g_build_filename (p->dir, "dst.qcow2", NULL);
  const char *const args[] = { "convert", "-p", "-O", "qcow2",
                               "--request-size=64k", "--connections=1",
                               "pattern:64g", qcow2, NULL };
  const char *info[] = { "qemu-img", "info", "--output=json", qcow2, NULL };
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;

  if (skip_without_format ("qcow2"))
    return;

  process = spawn_cli (modules, TRUE, args);
  test_wait_for_progress (process);
  /* Up to 60 s for its first write, on a loaded machine. */
  for (guint i = 0; i < 6000 && !qcow2_is_dirty (qcow2); i++)
    g_usleep (10 * 1000);
  g_assert_true (qcow2_is_dirty (qcow2));
  g_subprocess_send_signal (process, SIGINT);
  g_assert_cmpint (test_wait_process (process, NULL, NULL), ==, 4);

  g_assert_cmpint (test_run (info, &out, NULL), ==, 0);
  root = test_parse_json (out);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (root),
                                                 "dirty-flag"));
}

static void
test_to_qcow2_and_back (Paths *p, gconstpointer data)
{
  g_autofree char *qcow2 = g_build_filename (p->dir, "dst.qcow2", NULL);
  g_autofree char *raw = g_build_filename (p->dir, "back.raw", NULL);
  const char *const to_qcow2[] = { "-O", "qcow2", p->src, qcow2, NULL };
  const char *const to_raw[] = { qcow2, raw, NULL };

  if (skip_without_format ("qcow2"))
    return;

  test_create_sparse (p->src, 4 * MiB + 512);
  test_write_pattern (p->src, 1 * MiB, 128 * KiB, 'q');
  test_write_pattern (p->src, 4 * MiB, 512, 'e');

  convert_ok (to_qcow2);
  test_assert_images_equal (p->src, "raw", qcow2, "qcow2", FALSE);

  /* The source format is probed: qcow2, written as raw. */
  convert_ok (to_raw);
  g_assert_cmpuint (test_file_size (raw), ==, 4 * MiB + 512);
  assert_same_bytes (p->src, raw);
}

/* Writes into an image as the imageio tests do through qemu-nbd. */
static void
qemu_io (const char *path, const char *format, const char *command)
{
  const char *const commands[] = { command, NULL };

  test_qemu_io (path, format, commands);
}

/* The chain of the imageio client's shallow tests: a 10 MiB base with
 * clusters of "a", "b" and "c", and a qcow2 top over it with "B" in the
 * second cluster and zeroes in the third (hiding the base's "c"). */
static void
create_chain (const char *base, const char *base_format, const char *top)
{
  test_qemu_img_create (base, base_format, "10M", NULL, NULL);
  qemu_io (base, base_format, "write -P 0x61 0 64k");
  qemu_io (base, base_format, "write -P 0x62 64k 64k");
  qemu_io (base, base_format, "write -P 0x63 128k 64k");
  test_qemu_img_create (top, "qcow2", NULL, base, base_format);
  qemu_io (top, "qcow2", "write -P 0x42 64k 64k");
  qemu_io (top, "qcow2", "write -z 128k 64k");
}

/* Same data through the chains, and the same allocation in the top
 * layers alone: a hole of the top layer stays a hole (the base shows
 * through); its zeroed cluster stays zero (it hides the base's data). */
static void
assert_same_top (const char *src_top, const char *dst_top)
{
  g_autofree char *src_map = test_top_layer_map (src_top);
  g_autofree char *dst_map = test_top_layer_map (dst_top);

  test_assert_images_equal (src_top, "qcow2", dst_top, "qcow2", FALSE);
  g_test_message ("top layer:\n%s", src_map);
  g_assert_cmpstr (src_map, ==, dst_map);
}

/* The local half of the imageio client's test_download_shallow: copy the
 * base, then only the top layer onto a new top whose backing file is the
 * copied base. Data and allocation must match. */
static void
test_shallow_onto_backing (Paths *p, gconstpointer data)
{
  const char *base_format = data;
  g_autofree char *src_base = g_strdup_printf ("%s/src_base.%s", p->dir,
                                               base_format);
  g_autofree char *src_top = g_build_filename (p->dir, "src_top.qcow2", NULL);
  g_autofree char *dst_base = g_strdup_printf ("%s/dst_base.%s", p->dir,
                                               base_format);
  g_autofree char *dst_top = g_build_filename (p->dir, "dst_top.qcow2", NULL);
  const char *const copy_base[] = { "-f", base_format, "-O", base_format,
                                    src_base, dst_base, NULL };
  const char *const copy_top[] = { "--shallow", "-f", "qcow2", "-O",
                                   "qcow2", "-B", dst_base, "-F",
                                   base_format, src_top, dst_top, NULL };

  if (skip_without_format ("qcow2"))
    return;

  create_chain (src_base, base_format, src_top);

  convert_ok (copy_base);
  test_assert_images_equal (src_base, base_format, dst_base, base_format,
                            FALSE);
  if (g_str_equal (base_format, "qcow2"))
    test_assert_images_equal (src_base, base_format, dst_base, base_format,
                              TRUE);

  convert_ok (copy_top);
  test_assert_images_equal (src_top, "qcow2", dst_top, "qcow2", TRUE);
  assert_same_top (src_top, dst_top);
}

/* An incremental backup: after a full copy, -n --bitmap copies only what
 * the bitmap marks dirty (data and zeroed clusters), and leaves clean
 * ranges of the destination untouched. */
static void
test_dirty_bitmap (Paths *p, gconstpointer data)
{
  g_autofree char *image = g_build_filename (p->dir, "image.qcow2", NULL);
  const char *const full[] = { image, p->dst, NULL };
  const char *const incremental[] = { "-n", "--bitmap", "b0", image, p->dst,
                                      NULL };
  const char *add_bitmap[] = { "qemu-img", "bitmap", "--add", image, "b0",
                               NULL };
  const gsize size = 8 * CLUSTER_SIZE;
  g_autofree guint8 *expected = g_malloc0 (size);
  g_autofree char *contents = NULL;
  gsize length;

  if (skip_without_format ("qcow2"))
    return;

  test_qemu_img_create (image, "qcow2", "512k", NULL, NULL);
  qemu_io (image, "qcow2", "write -P 0x61 0 256k");
  convert_ok (full);

  g_assert_cmpint (test_run (add_bitmap, NULL, NULL), ==, 0);
  qemu_io (image, "qcow2", "write -P 0x42 64k 64k");
  qemu_io (image, "qcow2", "write -z 128k 64k");
  qemu_io (image, "qcow2", "write -P 0x43 384k 64k");
  /* A clean cluster changed in the backup only: must stay as it is. */
  test_write_pattern (p->dst, 3 * CLUSTER_SIZE, CLUSTER_SIZE, 'X');

  convert_ok (incremental);

  memset (expected, 'a', 4 * CLUSTER_SIZE);
  memset (expected + 1 * CLUSTER_SIZE, 'B', CLUSTER_SIZE);
  memset (expected + 2 * CLUSTER_SIZE, 0, CLUSTER_SIZE);
  memset (expected + 3 * CLUSTER_SIZE, 'X', CLUSTER_SIZE);
  memset (expected + 6 * CLUSTER_SIZE, 'C', CLUSTER_SIZE);
  g_assert_true (g_file_get_contents (p->dst, &contents, &length, NULL));
  g_assert_cmpmem (contents, length, expected, size);
}

/* Serves @image in @format with qemu-nbd on a unix socket in @dir, with
 * its backing chain, writable, for several connections. */
static TestServer *
start_qemu_nbd (const char *dir, const char *image, const char *format)
{
  g_autofree char *socket_path = g_build_filename (dir, "nbd.sock", NULL);
  const char *const argv[] = { "qemu-nbd", "--persistent", "--shared=8",
                               "--format", format, "--socket", socket_path,
                               image, NULL };

  return test_server_start (argv, socket_path);
}

/* Uploads @src to an NBD server serving @dst, the way the imageio client
 * tests do it (test_upload_nbd, test_upload_nbd_shallow): a URL
 * destination, optionally --shallow and --target-is-zero. */
static void
upload_to_qemu_nbd (const char *dir,
                    const char *src,
                    const char *dst,
                    const char *dst_format,
                    gboolean shallow,
                    gboolean target_is_zero)
{
  g_autoptr (TestServer) server = start_qemu_nbd (dir, dst, dst_format);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  if (shallow)
    g_ptr_array_add (args, "--shallow");
  if (target_is_zero)
    g_ptr_array_add (args, "--target-is-zero");
  g_ptr_array_add (args, (char *)src);
  g_ptr_array_add (args, (char *)test_server_get_uri (server));
  g_ptr_array_add (args, NULL);

  convert_ok ((const char *const *)args->pdata);
}

typedef struct
{
  const char *src_format;
  const char *dst_format;
  gboolean target_is_zero;
} UploadCase;

static const UploadCase upload_cases[] = {
  { "raw", "raw", FALSE },   { "raw", "raw", TRUE },
  { "raw", "qcow2", FALSE }, { "raw", "qcow2", TRUE },
  { "qcow2", "raw", FALSE }, { "qcow2", "raw", TRUE },
  { "qcow2", "qcow2", FALSE }, { "qcow2", "qcow2", TRUE },
};

/* Every kind of extent: data, zeroes written as data, a zeroed cluster
 * that may be deallocated (a hole in raw), one that stays allocated, and
 * an unallocated one. */
static void
test_upload_nbd (Paths *p, gconstpointer data)
{
  const UploadCase *c = data;
  g_autofree char *src = g_strdup_printf ("%s/src.%s", p->dir,
                                          c->src_format);
  g_autofree char *dst = g_strdup_printf ("%s/dst.%s", p->dir,
                                          c->dst_format);

  if (skip_without_format ("qcow2"))
    return;

  test_qemu_img_create (src, c->src_format, "320k", NULL, NULL);
  qemu_io (src, c->src_format, "write -P 0x41 0 64k");
  qemu_io (src, c->src_format, "write -P 0 64k 64k");
  qemu_io (src, c->src_format, "write -z -u 128k 64k");
  qemu_io (src, c->src_format, "write -z 192k 64k");
  test_qemu_img_create (dst, c->dst_format, "320k", NULL, NULL);

  upload_to_qemu_nbd (p->dir, src, dst, c->dst_format, FALSE,
                      c->target_is_zero);

  test_assert_images_equal (src, c->src_format, dst, c->dst_format, FALSE);
}

/* The base, then only the top layer onto an existing top whose backing
 * file is the uploaded base: the top's holes stay holes. */
static void
test_upload_nbd_shallow (Paths *p, gconstpointer data)
{
  const UploadCase *c = data;
  const char *base_format = c->src_format;
  g_autofree char *src_base = g_strdup_printf ("%s/src_base.%s", p->dir,
                                               base_format);
  g_autofree char *src_top = g_build_filename (p->dir, "src_top.qcow2", NULL);
  g_autofree char *dst_base = g_strdup_printf ("%s/dst_base.%s", p->dir,
                                               base_format);
  g_autofree char *dst_top = g_build_filename (p->dir, "dst_top.qcow2", NULL);

  if (skip_without_format ("qcow2"))
    return;

  create_chain (src_base, base_format, src_top);
  test_qemu_img_create (dst_base, base_format, "10M", NULL, NULL);
  test_qemu_img_create (dst_top, "qcow2", NULL, dst_base, base_format);

  upload_to_qemu_nbd (p->dir, src_base, dst_base, base_format, TRUE,
                      c->target_is_zero);
  test_assert_images_equal (src_base, base_format, dst_base, base_format,
                            FALSE);
  if (g_str_equal (base_format, "qcow2"))
    test_assert_images_equal (src_base, base_format, dst_base, base_format,
                              TRUE);

  upload_to_qemu_nbd (p->dir, src_top, dst_top, "qcow2", TRUE,
                      c->target_is_zero);
  assert_same_top (src_top, dst_top);
}

/* An existing block device is written in place, never truncated, and
 * zeroed where the source has holes (a device is not known to be zero). */
static void
test_block_device (Paths *p, gconstpointer data)
{
  g_autofree char *backing = g_build_filename (p->dir, "device.raw", NULL);
  const char *attach[] = { "losetup", "--find", "--show", backing, NULL };
  g_autofree char *device = NULL;
  g_autofree char *err = NULL;

  test_create_sparse (p->src, 4 * MiB);
  test_write_pattern (p->src, 2 * MiB, 64 * KiB, 'b');
  test_write_pattern (backing, 0, 4 * MiB, 'g');
  if (test_run (attach, &device, &err) != 0)
    {
      g_test_skip_printf ("no loop device: %s", err);
      return;
    }
  g_strstrip (device);

  {
    const char *const args[] = { p->src, device, NULL };
    const char *detach[] = { "losetup", "--detach", device, NULL };

    convert_ok (args);
    g_assert_cmpint (test_run (detach, NULL, NULL), ==, 0);
  }
  assert_same_bytes (p->src, backing);
}

/* Starts `cat FIFO` (or `head -c 1000 FIFO`) writing to @out. */
static GSubprocess *
start_reader (const char *fifo, const char *out, gboolean whole)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;
  GSubprocess *reader;

  g_subprocess_launcher_set_stdout_file_path (launcher, out);
  if (whole)
    reader = g_subprocess_launcher_spawn (launcher, &error, "cat", fifo,
                                          NULL);
  else
    reader = g_subprocess_launcher_spawn (launcher, &error, "head", "-c",
                                          "1000", fifo, NULL);
  g_assert_no_error (error);
  return reader;
}

/* A pipe destination is written in order and not truncated or seeked
 *; holes arrive as zeroes. */
static void
test_pipe (Paths *p, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (p->dir, "fifo", NULL);
  const char *const args[] = { "-p", p->src, fifo, NULL };
  g_autoptr (GSubprocess) reader = NULL;
  g_autoptr (GError) error = NULL;

  test_create_sparse (p->src, 9 * MiB + 100);
  test_write_pattern (p->src, 1 * MiB, 3 * MiB, 'p');
  test_write_pattern (p->src, 9 * MiB, 100, 't');
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  reader = start_reader (fifo, p->dst, TRUE);
  convert_ok (args);
  g_assert_true (g_subprocess_wait_check (reader, NULL, &error));
  g_assert_no_error (error);

  assert_same_bytes (p->src, p->dst);
}

/* The reader leaves early: a write error naming the pipe, exit 1. */
static void
test_pipe_reader_gone (Paths *p, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (p->dir, "fifo", NULL);
  const char *const args[] = { "convert", p->src, fifo, NULL };
  g_autoptr (GSubprocess) reader = NULL;
  g_autofree char *err = NULL;

  test_write_pattern (p->src, 0, 16 * MiB, 'p');
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  reader = start_reader (fifo, p->dst, FALSE);
  g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 1);
  g_assert_true (g_subprocess_wait_check (reader, NULL, NULL));
  g_assert_nonnull (strstr (err, fifo));
  g_assert_cmpuint (test_file_size (p->dst), ==, 1000);
}

/* To and from an NBD server (nbdkit's file plugin over a unix socket): a
 * URL destination is opened, not created, and since it is not known to be
 * zero the source's holes are zeroed there; a download keeps the holes. */
static void
test_nbd (Paths *p, gconstpointer data)
{
  g_autofree char *served = g_build_filename (p->dir, "served.raw", NULL);
  g_autofree char *back = g_build_filename (p->dir, "back.raw", NULL);
  g_autofree char *socket_path = g_build_filename (p->dir, "sock", NULL);
  const char *const server_argv[] = { "nbdkit", "-f", "-U", socket_path,
                                      "file", served, NULL };
  const DataRange expected[] = { { 1 * MiB, 1 * MiB + 192 * KiB } };
  g_autoptr (TestServer) server = NULL;

  test_create_sparse (p->src, 4 * MiB);
  test_write_pattern (p->src, 1 * MiB, 192 * KiB, 'n');
  test_write_pattern (served, 0, 4 * MiB, 'g');

  server = test_server_start (server_argv, socket_path);
  {
    const char *const upload[] = { "-p", p->src, test_server_get_uri (server),
                                   NULL };
    const char *const download[] = { test_server_get_uri (server), back,
                                     NULL };
    const char *const as_qcow2[] = { "convert", "-O", "qcow2", p->src,
                                     test_server_get_uri (server), NULL };
    g_autofree char *err = NULL;
    g_autofree char *contents = NULL;
    gsize length;

    /* A format cannot be written to a URL: refused before any write. */
    g_assert_cmpint (test_run_cli (as_qcow2, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, test_server_get_uri (server)));
    g_assert_true (g_file_get_contents (served, &contents, &length, NULL));
    g_assert_cmpint (contents[1 * MiB], ==, 'g');

    convert_ok (upload);
    convert_ok (download);
  }
  g_clear_pointer (&server, test_server_stop);

  assert_same_bytes (p->src, served);
  assert_same_bytes (p->src, back);
  assert_data_ranges (back, expected, G_N_ELEMENTS (expected));
}

static void
test_module_listed (void)
{
  g_autofree char *modules = example_module_dir ();
  g_autofree char *module_path
      = g_build_filename (modules, "imgxfer-pattern.so", NULL);
  const char *const args[] = { "drivers", NULL };
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  gboolean found = FALSE;

  g_assert_cmpint (run_cli_with_modules (modules, TRUE, args, &out, NULL),
                   ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], "pattern "))
      {
        g_assert_true (g_str_has_suffix (lines[i], module_path));
        found = TRUE;
      }
  g_assert_true (found);

  /* And only when asked for. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_cli_with_modules (NULL, TRUE, args, &out, NULL), ==,
                   0);
  g_assert_null (strstr (out, "pattern"));
}

static void
test_module_convert (Paths *p, gconstpointer data)
{
  g_autofree char *modules = example_module_dir ();
  const gsize size = 1 * MiB + 4096 + 7;
  g_autofree char *url = g_strdup_printf ("pattern:%" G_GSIZE_FORMAT, size);
  const char *const args[] = { "convert", url, p->dst, NULL };
  g_autofree char *bytes = NULL;
  g_autofree char *err = NULL;
  gsize length;

  g_assert_cmpint (run_cli_with_modules (modules, TRUE, args, NULL, &err),
                   ==, 0);
  g_assert_true (g_file_get_contents (p->dst, &bytes, &length, NULL));
  /* Created at the size rounded up to 512, as qemu-img creates it. */
  g_assert_cmpuint (length, ==, 1 * MiB + 4096 + 512);
  for (gsize i = 0; i < length; i++)
    if ((guint8)bytes[i] != (i < size ? i % PATTERN_PERIOD : 0))
      g_error ("byte %" G_GSIZE_FORMAT " is %u", i, (guint8)bytes[i]);
}

static void
test_module_bad_abi (void)
{
  g_autofree char *modules = g_build_filename (
      g_getenv ("IMGXFER_BUILD_DIR"), "tests", "bad-abi-module", NULL);
  const char *const args[] = { "drivers", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_true (g_file_test (modules, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (run_cli_with_modules (modules, FALSE, args, &out, &err),
                   ==, 0);
  g_assert_nonnull (strstr (err, "imgxfer-bad-abi.so"));
  g_assert_nonnull (strstr (err, "driver ABI"));
  g_assert_null (strstr (out, "bad-abi"));
  g_assert_nonnull (strstr (out, "file "));
}

/* The files the dynamic loader opened for `imgxfer ARGS...`, from its
 * LD_DEBUG=files report. */
static char *
loaded_files (const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *err = NULL;

  g_subprocess_launcher_setenv (launcher, "LD_DEBUG", "files", TRUE);
  process = test_spawn_cli (launcher, args);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  return err;
}

/* A driver module and the libraries behind it are loaded only for an
 * image that needs that driver; a copy between files loads none. */
static void
test_module_on_demand (Paths *p, gconstpointer data)
{
  static const char *const not_for_files[]
      = { "imgxfer-nbd.so", "imgxfer-tar.so", "libnbd.so",
          "libarchive.so",  "libb2.so",       "libcrypto.so" };
  g_autofree char *qcow2 = g_build_filename (p->dir, "src.qcow2", NULL);
  const char *const file_args[] = { "convert", p->src, p->dst, NULL };
  const char *const qcow2_args[] = { "convert", "-f", "qcow2", qcow2,
                                     p->dst, NULL };
  g_autofree char *files = NULL;
  g_autofree char *qemu = NULL;

  test_write_pattern (p->src, 1 * MiB, 64 * KiB, 0x5a);
  files = loaded_files (file_args);
  g_assert_nonnull (strstr (files, "libimgxfer-1.so"));
  for (guint i = 0; i < G_N_ELEMENTS (not_for_files); i++)
    if (strstr (files, not_for_files[i]) != NULL)
      g_error ("a copy between files loaded %s", not_for_files[i]);

  test_qemu_img_create (qcow2, "qcow2", "1M", NULL, NULL);
  qemu = loaded_files (qcow2_args);
  /* The qemu driver shares the nbd driver's module. */
  g_assert_nonnull (strstr (qemu, "imgxfer-nbd.so"));
  g_assert_null (strstr (qemu, "imgxfer-tar.so"));
  g_assert_null (strstr (qemu, "libarchive.so"));
}

/* A test that works in a new folder (see Paths). */
#define add_test(path, data, func)                                           \
  g_test_add (path, Paths, data, paths_setup, func, paths_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  add_test ("/convert/sparse/holes-kept", NULL, test_sparse);
  add_test ("/convert/sparse/zero-data-becomes-hole", NULL,
            test_zero_data_becomes_hole);
  add_test ("/convert/unaligned-tail/cached", "writeback",
            test_unaligned_tail);
  add_test ("/convert/unaligned-tail/direct", "none", test_unaligned_tail);
  add_test ("/convert/empty", NULL, test_empty);
  add_test ("/convert/replace-existing", NULL, test_replace_existing);
  add_test ("/convert/no-create/zeroes-holes", NULL, test_no_create);
  add_test ("/convert/no-create/too-small", NULL, test_no_create_too_small);
  add_test ("/convert/no-create/target-is-zero", NULL, test_target_is_zero);
  add_test ("/convert/errors/same-file", NULL, test_same_file);
  add_test ("/convert/errors/missing-source", NULL, test_missing_source);
  add_test ("/convert/errors/unwritable-destination", NULL,
            test_unwritable_destination);
  g_test_add_func ("/convert/errors/usage", test_usage_errors);
  add_test ("/convert/progress", NULL, test_progress);
  add_test ("/convert/output/json", NULL, test_json_summary);
  add_test ("/convert/output/checksum", NULL, test_checksum);
  add_test ("/convert/output/checksum-sparse", NULL, test_checksum_sparse);
  add_test ("/convert/cancel/pattern", NULL, test_cancel);
  add_test ("/convert/cancel/qcow2", "pattern:512m", test_cancel);
  add_test ("/convert/cancel/to-qcow2", NULL, test_cancel_to_qcow2);
  add_test ("/convert/qcow2/to-qcow2-and-back", NULL, test_to_qcow2_and_back);
  add_test ("/convert/qcow2/shallow-onto-backing/raw", "raw",
            test_shallow_onto_backing);
  add_test ("/convert/qcow2/shallow-onto-backing/qcow2", "qcow2",
            test_shallow_onto_backing);
  add_test ("/convert/qcow2/dirty-bitmap", NULL, test_dirty_bitmap);
  add_test ("/convert/block-device", NULL, test_block_device);
  add_test ("/convert/pipe/in-order", NULL, test_pipe);
  add_test ("/convert/pipe/reader-gone", NULL, test_pipe_reader_gone);
  add_test ("/convert/nbd/upload-download", NULL, test_nbd);
  for (guint i = 0; i < G_N_ELEMENTS (upload_cases); i++)
    {
      const UploadCase *c = &upload_cases[i];
      g_autofree char *path = g_strdup_printf (
          "/convert/nbd/upload/%s-to-%s%s", c->src_format, c->dst_format,
          c->target_is_zero ? "/target-is-zero" : "");

      add_test (path, c, test_upload_nbd);
      if (g_str_equal (c->src_format, c->dst_format))
        {
          g_autofree char *shallow = g_strdup_printf (
              "/convert/nbd/upload-shallow/%s%s", c->src_format,
              c->target_is_zero ? "/target-is-zero" : "");

          add_test (shallow, c, test_upload_nbd_shallow);
        }
    }
  g_test_add_func ("/convert/module/listed", test_module_listed);
  add_test ("/convert/module/convert", NULL, test_module_convert);
  g_test_add_func ("/convert/module/bad-abi", test_module_bad_abi);
  add_test ("/convert/module/on-demand", NULL, test_module_on_demand);

  return g_test_run ();
}
