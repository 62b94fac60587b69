/* shallow.c: copies of the top layer only: `convert -B` and --shallow,
 * from local chains and from NBD servers, against what qemu-img does
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

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

  return g_test_run ();
}
