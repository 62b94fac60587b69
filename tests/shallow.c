/* shallow.c: copies of the top layer only: `convert -B` and --shallow,
 * from local chains and from NBD servers, against what qemu-img does
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)

typedef struct
{
  char *dir;
  char *base;     /* the source's backing file */
  char *top;      /* the source */
  char *new_base; /* the backing file of the copy */
} Chain;

static void
qemu_io (const char *path, const char *format, const char *command)
{
  const char *const commands[] = { command, NULL };

  test_qemu_io (path, format, commands);
}

static char *
path_in (Chain *c, const char *name)
{
  return g_build_filename (c->dir, name, NULL);
}

/* A 64 MiB base holding 20 MiB, and a qcow2 top over it holding 1 MiB of
 * its own and a zeroed cluster that hides the base's data; the new
 * backing file is a copy of the base. */
static void
chain_setup (Chain *c, gconstpointer data)
{
  const char *copy_base[] = { "qemu-img", "convert", "-f", "qcow2", "-O",
                              "qcow2",    NULL,      NULL, NULL };

  c->dir = test_tmpdir_new ();
  c->base = path_in (c, "base.qcow2");
  c->top = path_in (c, "top.qcow2");
  c->new_base = path_in (c, "new-base.qcow2");

  test_qemu_img_create (c->base, "qcow2", "64M", NULL, NULL);
  qemu_io (c->base, "qcow2", "write -P 0x61 0 20M");
  test_qemu_img_create (c->top, "qcow2", NULL, c->base, "qcow2");
  qemu_io (c->top, "qcow2", "write -P 0x42 30M 1M");
  qemu_io (c->top, "qcow2", "write -z 5M 64k");

  copy_base[6] = c->base;
  copy_base[7] = c->new_base;
  test_run_ok (copy_base);
}

static void
chain_teardown (Chain *c, gconstpointer data)
{
  g_free (c->base);
  g_free (c->top);
  g_free (c->new_base);
  test_tmpdir_free (c->dir);
}

static gint64
allocated_clusters (const char *path)
{
  return test_qemu_img_json_int ("check", path, "allocated-clusters");
}

/* `convert -O qcow2 -B NEW_BASE -F qcow2 [-f FORMAT] SOURCE COPY` by
 * qemu-img (@tool NULL) or by imgxfer. */
static void
convert_onto_new_base (Chain *c, const char *tool, const char *format,
                       const char *source, const char *copy)
{
  const char *argv[] = { tool ? tool : "qemu-img",
                         "convert",
                         "-O",
                         "qcow2",
                         "-B",
                         c->new_base,
                         "-F",
                         "qcow2",
                         "-f",
                         format,
                         source,
                         copy,
                         NULL };

  test_run_ok (argv);
}

/* imgxfer's copy allocates in its own layer what qemu-img's does, and
 * reads, through the new backing file, as the source. */
static void
assert_like_qemu_img (Chain *c, const char *format, const char *source,
                      const char *source_url)
{
  g_autofree char *expected = path_in (c, "qemu-img.qcow2");
  g_autofree char *copy = path_in (c, "imgxfer.qcow2");
  g_autofree char *expected_map = NULL;
  g_autofree char *copy_map = NULL;

  convert_onto_new_base (c, NULL, format, source, expected);
  convert_onto_new_base (c, g_getenv ("IMGXFER_CLI"), format, source_url, copy);

  expected_map = test_top_layer_map (expected);
  copy_map = test_top_layer_map (copy);
  g_test_message ("qemu-img's top layer:\n%s", expected_map);
  g_assert_cmpstr (copy_map, ==, expected_map);
  g_assert_cmpint (allocated_clusters (copy), ==,
                   allocated_clusters (expected));
  test_assert_images_equal (source, format, copy, "qcow2", FALSE);
}

/* The source's top layer alone is copied: 1 MiB and a zero cluster, not
 * the base's 20 MiB, which the new backing file holds. */
static void
test_backing_option_chain (Chain *c, gconstpointer data)
{
  g_autofree char *copy = path_in (c, "imgxfer.qcow2");

  assert_like_qemu_img (c, "qcow2", c->top, c->top);
  g_assert_cmpint (allocated_clusters (copy), <, 20 * MiB / (64 * 1024));
}

/* A qcow2 without a backing file: what it does not allocate is left to
 * the new backing file, as qemu-img leaves it. */
static void
test_backing_option_no_backing (Chain *c, gconstpointer data)
{
  g_autofree char *alone = path_in (c, "alone.qcow2");

  test_qemu_img_create (alone, "qcow2", "64M", NULL, NULL);
  qemu_io (alone, "qcow2", "write -P 0x43 1M 1M");
  qemu_io (alone, "qcow2", "write -z 3M 64k");
  assert_like_qemu_img (c, "qcow2", alone, alone);
}

/* A raw file is all top layer: its data and its holes (zero, not
 * unallocated) are written, hiding the new backing file. */
static void
test_backing_option_raw (Chain *c, gconstpointer data)
{
  g_autofree char *raw = path_in (c, "source.raw");

  test_create_sparse (raw, 64 * MiB);
  test_write_pattern (raw, 2 * MiB, MiB, 0x44);
  assert_like_qemu_img (c, "raw", raw, raw);
}

/* qemu-nbd exporting the source chain, with --allocation-depth or
 * without. */
static TestServer *
serve_chain (Chain *c, gboolean depth)
{
  g_autofree char *socket = path_in (c, depth ? "depth.sock" : "plain.sock");
  const char *const argv[]
      = { "qemu-nbd",           "-r",   "-t", "-f", "qcow2", "-k", socket,
          "--allocation-depth", c->top, NULL };

  if (!depth)
    return test_qemu_nbd_start (c->top, "qcow2", socket);
  return test_server_start (argv, socket);
}

/* The ranges of `imgxfer extents --output=json` that are holes, merged
 * ("start+length" lines). */
static char *
hole_ranges (const char *json)
{
  g_autoptr (JsonNode) root = test_parse_json (json);
  JsonArray *extents = json_node_get_array (root);
  GString *holes = g_string_new (NULL);
  gint64 start = -1, end = -1;

  for (guint i = 0; i < json_array_get_length (extents); i++)
    {
      JsonObject *e = json_array_get_object_element (extents, i);
      gint64 offset = json_object_get_int_member (e, "start");

      if (!json_object_get_boolean_member (e, "hole"))
        continue;
      if (offset != end)
        {
          if (start >= 0)
            g_string_append_printf (
                holes, "%" G_GINT64_FORMAT "+%" G_GINT64_FORMAT "\n", start,
                end - start);
          start = offset;
        }
      end = offset + json_object_get_int_member (e, "length");
    }
  if (start >= 0)
    g_string_append_printf (holes,
                            "%" G_GINT64_FORMAT "+%" G_GINT64_FORMAT "\n",
                            start, end - start);
  return g_string_free (holes, FALSE);
}

/* A shallow copy from an NBD export of the whole chain takes the top
 * layer from qemu:allocation-depth: the new top allocates what the
 * source's top does, and reads through the new backing file as the
 * source. extents --shallow reports the same holes. */
static void
test_nbd_allocation_depth (Chain *c, gconstpointer data)
{
  g_autoptr (TestServer) server = serve_chain (c, TRUE);
  const char *url = test_server_get_uri (server);
  g_autofree char *copy = path_in (c, "imgxfer.qcow2");
  g_autofree char *expected = path_in (c, "qemu-img.qcow2");
  const char *convert[]
      = { "convert", "--shallow", "-O", "qcow2", "-B", c->new_base,
          "-F",      "qcow2",     url,  copy,    NULL };
  const char *extents[]
      = { "extents", "--shallow", "--output=json", url, NULL };
  const char *local_extents[]
      = { "extents", "--shallow", "--output=json", c->top, NULL };
  g_autofree char *expected_map = NULL;
  g_autofree char *copy_map = NULL;
  g_autofree char *out = NULL;
  g_autofree char *local_out = NULL;
  g_autofree char *holes = NULL;
  g_autofree char *local_holes = NULL;
  g_autofree char *err = NULL;

  convert_onto_new_base (c, NULL, "qcow2", c->top, expected);
  g_assert_cmpint (test_run_cli (convert, NULL, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");

  expected_map = test_top_layer_map (expected);
  copy_map = test_top_layer_map (copy);
  g_assert_cmpstr (copy_map, ==, expected_map);
  test_assert_images_equal (c->top, "qcow2", copy, "qcow2", FALSE);

  /* The same holes; their zero flags differ: through the export they
   * read as the source's backing file does. */
  g_assert_cmpint (test_run_cli (extents, &out, NULL), ==, 0);
  g_assert_cmpint (test_run_cli (local_extents, &local_out, NULL), ==, 0);
  holes = hole_ranges (out);
  local_holes = hole_ranges (local_out);
  g_test_message ("holes:\n%s", holes);
  g_assert_cmpstr (holes, ==, local_holes);
  g_clear_pointer (&server, test_server_stop);
}

/* Without qemu:allocation-depth, the top layer's holes cannot be told
 * from its zeroes: --shallow is refused before anything is created,
 * unless -f raw says the export is all one layer. */
static void
test_nbd_no_allocation_depth (Chain *c, gconstpointer data)
{
  g_autoptr (TestServer) server = serve_chain (c, FALSE);
  const char *url = test_server_get_uri (server);
  g_autofree char *copy = path_in (c, "copy.raw");
  const char *convert[] = { "convert", "--shallow", url, copy, NULL };
  const char *extents[] = { "extents", "--shallow", url, NULL };
  const char *raw[] = { "convert", "--shallow", "-f", "raw", url, copy, NULL };
  const char *const *refused[] = { convert, extents };
  g_autofree char *what
      = g_strdup_printf ("imgxfer: %s: a shallow source needs the NBD server's "
                         "\"qemu:allocation-depth\" context",
                         url);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *err = NULL;

      g_assert_cmpint (test_run_cli (refused[i], NULL, &err), ==, 1);
      g_assert_true (g_str_has_prefix (err, what));
      g_assert_cmpuint (strlen (err), ==, strcspn (err, "\n") + 1);
    }
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));

  g_assert_cmpint (test_run_cli (raw, NULL, NULL), ==, 0);
  test_assert_images_equal (c->top, "qcow2", copy, "raw", FALSE);
  g_clear_pointer (&server, test_server_stop);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/shallow/backing-option/chain", Chain, NULL, chain_setup,
              test_backing_option_chain, chain_teardown);
  g_test_add ("/shallow/backing-option/no-backing", Chain, NULL, chain_setup,
              test_backing_option_no_backing, chain_teardown);
  g_test_add ("/shallow/backing-option/raw", Chain, NULL, chain_setup,
              test_backing_option_raw, chain_teardown);

  g_test_add ("/shallow/nbd/allocation-depth", Chain, NULL, chain_setup,
              test_nbd_allocation_depth, chain_teardown);
  g_test_add ("/shallow/nbd/no-allocation-depth", Chain, NULL, chain_setup,
              test_nbd_no_allocation_depth, chain_teardown);

  return g_test_run ();
}
