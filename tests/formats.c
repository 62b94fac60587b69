/* formats.c: every image format imgxfer lists, probed and read by each
 * command, and formats given with -f over any protocol
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define IMAGE_SIZE (8 * MiB)

/* The formats the README lists besides raw. */
static const char *const formats[]
    = { "qcow2", "qcow", "qed", "vmdk", "vhdx", "vdi", "vpc", "parallels" };

/* A raw image with data at the start, across a cluster boundary and at
 * the end, so that no container's own layout reads the same by chance. */
static char *
make_raw_image (const char *dir)
{
  char *path = g_build_filename (dir, "src.raw", NULL);

  test_create_sparse (path, IMAGE_SIZE);
  test_write_pattern (path, 0, 4096, 0x11);
  test_write_pattern (path, 3 * MiB - 512, MiB, 0x22);
  test_write_pattern (path, IMAGE_SIZE - 4096, 4096, 0x33);
  return path;
}

/* @raw converted to @format by qemu-img, at @dir/src.FORMAT. */
static char *
make_image (const char *dir, const char *raw, const char *format)
{
  g_autofree char *name = g_strconcat ("src.", format, NULL);
  char *path = g_build_filename (dir, name, NULL);
  const char *argv[]
      = { "qemu-img", "convert", "-f", "raw", "-O", format, raw, path, NULL };

  test_run_ok (argv);
  return path;
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* The checksum line "DIGEST  NAME" of `imgxfer checksum`, digest only. */
static char *
cli_checksum (const char *const *args)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = test_run_cli (args, &out, &err);

  if (status != 0)
    g_error ("imgxfer checksum: exit %d: %s", status, err);
  return g_strndup (out, strcspn (out, " "));
}

/* The end of the last extent `imgxfer extents` lists. */
static guint64
cli_extents_end (const char *const *args)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array;
  JsonObject *last;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  root = test_parse_json (out);
  array = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (array), >, 0);
  last = json_array_get_object_element (array,
                                        json_array_get_length (array) - 1);
  return json_object_get_int_member (last, "start")
         + json_object_get_int_member (last, "length");
}

/* Each listed format, made by qemu-img and given without -f: convert
 * copies the guest data (not the container), checksum equals that of
 * the guest data as qemu-img converts it, extents span the virtual
 * size. */
static void
test_probe (gconstpointer data)
{
  const char *format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *image = make_image (dir, raw, format);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *expected = g_build_filename (dir, "expected.raw", NULL);
  const char *to_raw[] = { "qemu-img", "convert", "-f",     format, "-O",
                           "raw",      image,     expected, NULL };
  const char *convert[] = { "convert", image, copy, NULL };
  const char *checksum[] = { "checksum", image, NULL };
  const char *expected_checksum[] = { "checksum", expected, NULL };
  const char *extents[] = { "extents", "--output=json", image, NULL };
  guint64 size = test_qemu_img_json_int ("info", image, "virtual-size");
  g_autofree char *err = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *expected_digest = NULL;

  test_run_ok (to_raw);
  g_assert_cmpuint (size, ==, file_size (expected));

  g_assert_cmpint (test_run_cli (convert, NULL, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpuint (file_size (copy), ==, size);
  test_assert_images_equal (image, format, copy, "raw", FALSE);
  test_assert_images_equal (raw, "raw", copy, "raw", FALSE);

  digest = cli_checksum (checksum);
  expected_digest = cli_checksum (expected_checksum);
  g_assert_cmpstr (digest, ==, expected_digest);

  g_assert_cmpuint (cli_extents_end (extents), ==, size);

  test_tmpdir_free (g_steal_pointer (&dir));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *name = g_strdup_printf ("/formats/probe/%s", formats[i]);
      g_test_add_data_func (name, formats[i], test_probe);
    }

  return g_test_run ();
}
