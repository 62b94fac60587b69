/* image-extents.c: imgxfer_image_extents() and `imgxfer extents` on real
 * raw and qcow2 images, chains, OVA members and dirty bitmaps, against the
 * extents the imageio client tests expect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER (64 * KiB)
#define BIG_SIZE (10 * MiB)
#define SMALL_SIZE (1 * MiB)

#define DATA IMGXFER_EXTENT_DATA
#define ZERO IMGXFER_EXTENT_ZERO
#define HOLE IMGXFER_EXTENT_HOLE
#define DIRTY IMGXFER_EXTENT_DIRTY

/* How a scenario's image is made and read, and what it must show. */
typedef struct
{
  const char *name;
  /* Makes the image(s) in @dir; returns the path or URL to read. */
  char *(*create) (const char *dir);
  gboolean needs_qemu;
  gboolean needs_tar;
  const char *member;
  const char *bitmap;
  gboolean shallow;
  ImgxferExtent expected[8];
} Scenario;

static void
qemu_img (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, "qemu-img");
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (test_run ((const char *const *)argv->pdata, NULL, NULL),
                   ==, 0);
}

/* test_zero_extents_raw: data, zero, data, then never written. */
static char *
create_raw (const char *dir)
{
  char *path = g_build_filename (dir, "image.raw", NULL);
  const char *commands[] = { "write -q -P 0x41 0 64k", "write -q -z 64k 64k",
                             "write -q -P 0x42 128k 64k", NULL };

  test_create_sparse (path, BIG_SIZE);
  test_qemu_io (path, "raw", commands);
  return path;
}

/* Creates a qcow2 image of @size on @backing (or none), with an empty
 * dirty bitmap "b0" when asked for, and writes a data cluster of @pattern
 * at @data and a zero cluster after it. */
static void
create_qcow2 (const char *path, const char *size, const char *backing,
              gboolean bitmap, guint data, char pattern)
{
  const char *create[] = { "create", "-q", "-f", "qcow2", path, size, NULL };
  const char *create_on[] = { "create", "-q", "-f", "qcow2", "-b", backing,
                              "-F", "qcow2", path, NULL };
  const char *add_bitmap[] = { "bitmap", "--add", path, "b0", NULL };
  g_autofree char *write = g_strdup_printf ("write -q -P 0x%02x %u 64k",
                                            pattern, data);
  g_autofree char *zero = g_strdup_printf ("write -q -z %u 64k",
                                           data + CLUSTER);
  const char *commands[] = { write, zero, NULL };

  qemu_img (backing ? create_on : create);
  if (bitmap)
    qemu_img (add_bitmap);
  test_qemu_io (path, "qcow2", commands);
}

/* test_zero_extents_qcow2 and test_dirty_extents: a data and a zero
 * cluster in the base, a data and a zero cluster in the top. */
static void
create_chain (const char *dir, const char *size, gboolean bitmaps,
              char **base_out, char **top_out)
{
  g_autofree char *base = g_build_filename (dir, "base.qcow2", NULL);
  g_autofree char *top = g_build_filename (dir, "top.qcow2", NULL);

  create_qcow2 (base, size, NULL, bitmaps, 0 * CLUSTER, 'A');
  create_qcow2 (top, size, base, bitmaps, 3 * CLUSTER, 'B');
  *base_out = g_steal_pointer (&base);
  *top_out = g_steal_pointer (&top);
}

static char *
create_qcow2_chain (const char *dir)
{
  g_autofree char *base = NULL;
  char *top;

  create_chain (dir, "10M", FALSE, &base, &top);
  return top;
}

/* test_zero_extents_from_ova: a qcow2 with a data and a zero cluster,
 * as the member disk.qcow2 of vm.ova. */
static char *
create_ova (const char *dir)
{
  g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
  char *ova = g_build_filename (dir, "vm.ova", NULL);
  const char *paths[] = { disk, NULL };
  const char *names[] = { "disk.qcow2", NULL };
  guint64 offset, size;

  create_qcow2 (disk, "10M", NULL, FALSE, 0 * CLUSTER, 'A');
  test_create_ova (ova, paths, names, &offset, &size);
  return ova;
}

static char *
create_dirty_base (const char *dir)
{
  g_autofree char *top = NULL;
  char *base;

  create_chain (dir, "1M", TRUE, &base, &top);
  return base;
}

static char *
create_dirty_top (const char *dir)
{
  g_autofree char *base = NULL;
  char *top;

  create_chain (dir, "1M", TRUE, &base, &top);
  return top;
}

static const Scenario scenarios[] = {
  { "zero-raw", create_raw, FALSE, FALSE, NULL, NULL, FALSE,
    { { 0 * CLUSTER, CLUSTER, DATA },
      { 1 * CLUSTER, CLUSTER, ZERO },
      { 2 * CLUSTER, CLUSTER, DATA },
      { 3 * CLUSTER, BIG_SIZE - 3 * CLUSTER, ZERO } } },
  { "zero-qcow2", create_qcow2_chain, TRUE, FALSE, NULL, NULL, FALSE,
    { { 0 * CLUSTER, CLUSTER, DATA },
      { 1 * CLUSTER, CLUSTER, ZERO },
      { 2 * CLUSTER, CLUSTER, ZERO | HOLE },
      { 3 * CLUSTER, CLUSTER, DATA },
      { 4 * CLUSTER, CLUSTER, ZERO },
      { 5 * CLUSTER, BIG_SIZE - 5 * CLUSTER, ZERO | HOLE } } },
  /* Only the top layer: what the base holds is a hole too. */
  { "zero-qcow2-shallow", create_qcow2_chain, TRUE, FALSE, NULL, NULL, TRUE,
    { { 0 * CLUSTER, 3 * CLUSTER, ZERO | HOLE },
      { 3 * CLUSTER, CLUSTER, DATA },
      { 4 * CLUSTER, CLUSTER, ZERO },
      { 5 * CLUSTER, BIG_SIZE - 5 * CLUSTER, ZERO | HOLE } } },
  { "zero-from-ova", create_ova, TRUE, TRUE, "disk.qcow2", NULL, FALSE,
    { { 0 * CLUSTER, CLUSTER, DATA },
      { 1 * CLUSTER, CLUSTER, ZERO },
      { 2 * CLUSTER, BIG_SIZE - 2 * CLUSTER, ZERO | HOLE } } },
  { "dirty-base", create_dirty_base, TRUE, FALSE, NULL, "b0", FALSE,
    { { 0 * CLUSTER, CLUSTER, DIRTY },
      { 1 * CLUSTER, CLUSTER, DIRTY | ZERO },
      { 2 * CLUSTER, SMALL_SIZE - 2 * CLUSTER, ZERO } } },
  /* qemu-nbd reports the top's bitmap, and zeroes through the chain. */
  { "dirty-top", create_dirty_top, TRUE, FALSE, NULL, "b0", FALSE,
    { { 0 * CLUSTER, CLUSTER, DATA },
      { 1 * CLUSTER, 2 * CLUSTER, ZERO },
      { 3 * CLUSTER, CLUSTER, DIRTY },
      { 4 * CLUSTER, CLUSTER, DIRTY | ZERO },
      { 5 * CLUSTER, SMALL_SIZE - 5 * CLUSTER, ZERO } } },
};

static const Scenario *
find_scenario (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (g_str_equal (scenarios[i].name, name))
      return &scenarios[i];
  g_assert_not_reached ();
}

static guint
n_expected (const Scenario *scenario)
{
  guint n = 0;

  while (n < G_N_ELEMENTS (scenario->expected)
         && scenario->expected[n].length != 0)
    n++;
  return n;
}

static ImgxferExtentContext
scenario_context (const Scenario *scenario)
{
  return scenario->bitmap ? IMGXFER_EXTENT_CONTEXT_DIRTY
                          : IMGXFER_EXTENT_CONTEXT_ZERO;
}

/* Skips the test when a driver the scenario needs is not built. */
static gboolean
skip_scenario (const Scenario *scenario)
{
  if (scenario->needs_qemu
      && imgxfer_driver_lookup_format ("qcow2") == G_TYPE_INVALID)
    {
      g_test_skip ("no driver for qcow2");
      return TRUE;
    }
  if (scenario->needs_tar && imgxfer_driver_lookup_name ("tar") == G_TYPE_INVALID)
    {
      g_test_skip ("no tar driver");
      return TRUE;
    }
  return FALSE;
}

/* The library: imgxfer_open() and imgxfer_image_extents(). */
static void
test_library (gconstpointer data)
{
  const Scenario *scenario = data;
  char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;

  if (skip_scenario (scenario))
    return;

  dir = test_tmpdir_new ();
  path = scenario->create (dir);
  imgxfer_open_options_set_member (options, scenario->member);
  imgxfer_open_options_set_bitmap (options, scenario->bitmap);
  imgxfer_open_options_set_shallow (options, scenario->shallow);
  source = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);

  extents = imgxfer_image_extents (source, scenario_context (scenario), NULL,
                                   &error);
  g_assert_no_error (error);
  test_assert_extents (extents, scenario->expected, n_expected (scenario));

  g_clear_object (&source);
  test_tmpdir_free (dir);
}

/* One object of `imgxfer extents --output=json`, read back as an extent;
 * it must have exactly the keys of its context. */
static ImgxferExtent
extent_from_json (JsonObject *object, ImgxferExtentContext context)
{
  const char *flag_key = context == IMGXFER_EXTENT_CONTEXT_DIRTY ? "dirty"
                                                                 : "hole";
  ImgxferExtentFlags flag = context == IMGXFER_EXTENT_CONTEXT_DIRTY ? DIRTY
                                                                    : HOLE;
  ImgxferExtent extent = { 0 };

  g_assert_cmpuint (json_object_get_size (object), ==, 4);
  g_assert_true (json_object_has_member (object, "start"));
  g_assert_true (json_object_has_member (object, "length"));
  g_assert_true (json_object_has_member (object, "zero"));
  g_assert_true (json_object_has_member (object, flag_key));

  extent.start = json_object_get_int_member (object, "start");
  extent.length = json_object_get_int_member (object, "length");
  if (json_object_get_boolean_member (object, "zero"))
    extent.flags |= ZERO;
  if (json_object_get_boolean_member (object, flag_key))
    extent.flags |= flag;
  return extent;
}

static char *
run_cli_extents (const Scenario *scenario, const char *path, gboolean json)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add (args, "extents");
  if (json)
    g_ptr_array_add (args, "--output=json");
  if (scenario->member)
    {
      g_ptr_array_add (args, "--member");
      g_ptr_array_add (args, (char *)scenario->member);
    }
  if (scenario->bitmap)
    {
      g_ptr_array_add (args, "--bitmap");
      g_ptr_array_add (args, (char *)scenario->bitmap);
    }
  if (scenario->shallow)
    g_ptr_array_add (args, "--shallow");
  g_ptr_array_add (args, (char *)path);
  g_ptr_array_add (args, NULL);

  if (test_run_cli ((const char *const *)args->pdata, &out, &err) != 0)
    g_error ("imgxfer extents %s failed: %s", path, err);
  g_assert_cmpstr (err, ==, "");
  return g_steal_pointer (&out);
}

/* The command line: `imgxfer extents --output=json` prints the extents in
 * the imageio form. */
static void
test_cli_json (gconstpointer data)
{
  const Scenario *scenario = data;
  char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GArray) extents = g_array_new (FALSE, FALSE,
                                            sizeof (ImgxferExtent));
  JsonArray *array;

  if (skip_scenario (scenario))
    return;

  dir = test_tmpdir_new ();
  path = scenario->create (dir);
  out = run_cli_extents (scenario, path, TRUE);

  root = test_parse_json (out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      ImgxferExtent extent = extent_from_json (
          json_array_get_object_element (array, i),
          scenario_context (scenario));

      /* Not imgxfer_extents_append(): what was printed must already be
       * merged. */
      g_array_append_val (extents, extent);
    }
  test_assert_extents (extents, scenario->expected, n_expected (scenario));

  test_tmpdir_free (dir);
}

static void
test_cli_table (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = create_raw (dir);
  g_autofree char *out = run_cli_extents (find_scenario ("zero-raw"), path,
                                          FALSE);

  g_assert_cmpstr (out, ==,
                   "Offset               Length               Type\n"
                   "0                    65536                data\n"
                   "65536                65536                zero\n"
                   "131072               65536                data\n"
                   "196608               10289152             zero\n");

  test_tmpdir_free (dir);
}

static void
test_cli_table_dirty (void)
{
  const Scenario *scenario = find_scenario ("dirty-top");
  char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;

  if (skip_scenario (scenario))
    return;

  dir = test_tmpdir_new ();
  path = scenario->create (dir);
  out = run_cli_extents (scenario, path, FALSE);
  g_assert_cmpstr (out, ==,
                   "Offset               Length               Type\n"
                   "0                    65536                clean data\n"
                   "65536                131072               clean zero\n"
                   "196608               65536                dirty data\n"
                   "262144               65536                dirty zero\n"
                   "327680               720896               clean zero\n");

  test_tmpdir_free (dir);
}

/* Runs `imgxfer extents ARGS...`, which must fail with exit status 1 and
 * one line naming @needle. */
static void
assert_cli_fails (const char *const *args, const char *needle)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (test_run_cli (args, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_true (g_str_has_prefix (err, "imgxfer: "));
  g_assert_nonnull (strstr (err, needle));
  g_assert_cmpstr (strchr (err, '\n'), ==, "\n");
}

static void
test_cli_errors (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *raw = create_raw (dir);
  const char *missing[] = { "extents", "/nonexistent/disk.img", NULL };
  const char *bad_format[] = { "extents", "-f", "nosuch", raw, NULL };
  const char *no_bitmap[] = { "extents", "--bitmap", "b0", raw, NULL };

  assert_cli_fails (missing, "/nonexistent/disk.img");
  assert_cli_fails (bad_format, "nosuch");
  /* A raw file keeps no dirty bitmap. */
  assert_cli_fails (no_bitmap, raw);

  test_tmpdir_free (dir);
}

static void
test_cli_missing_bitmap (void)
{
  const Scenario *scenario = find_scenario ("dirty-base");
  char *dir = NULL;
  g_autofree char *path = NULL;

  if (skip_scenario (scenario))
    return;

  dir = test_tmpdir_new ();
  path = scenario->create (dir);
  {
    const char *args[] = { "extents", "--bitmap", "nosuch", path, NULL };

    assert_cli_fails (args, "nosuch");
  }

  test_tmpdir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    {
      g_autofree char *lib = g_strdup_printf ("/image-extents/library/%s",
                                              scenarios[i].name);
      g_autofree char *cli = g_strdup_printf ("/image-extents/cli/json/%s",
                                              scenarios[i].name);

      g_test_add_data_func (lib, &scenarios[i], test_library);
      g_test_add_data_func (cli, &scenarios[i], test_cli_json);
    }
  g_test_add_func ("/image-extents/cli/table/zero-raw", test_cli_table);
  g_test_add_func ("/image-extents/cli/table/dirty-top",
                   test_cli_table_dirty);
  g_test_add_func ("/image-extents/cli/errors", test_cli_errors);
  g_test_add_func ("/image-extents/cli/errors/missing-bitmap",
                   test_cli_missing_bitmap);

  return g_test_run ();
}
