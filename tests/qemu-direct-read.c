/* qemu-direct-read.c: a qcow2 source reads its data clusters from the
 * image file, and the rest through qemu-nbd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define SIZE (8 * MiB)
/* Inside the top layer's data written by make_chain(): direct. */
#define DIRECT_OFFSET (3 * MiB + 20000)
/* A hole in the top layer over the backing file's data, and that data. */
#define BACKING_OFFSET (5 * MiB + 1000)
#define BACKING_BYTE 0x11
/* The compressed cluster: qemu's to read. */
#define COMPRESSED_OFFSET (1 * MiB)
/* A read size that puts request boundaries anywhere in a cluster. */
#define ODD_CHUNK 77777

typedef struct
{
  char *dir;
  char *base;
  char *top;
  char *reference; /* what qemu-img reads in top */
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_tmpdir_new ();
  fixture->base = g_build_filename (fixture->dir, "base.qcow2", NULL);
  fixture->top = g_build_filename (fixture->dir, "top.qcow2", NULL);
  fixture->reference = g_build_filename (fixture->dir, "reference.raw", NULL);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_free (fixture->base);
  g_free (fixture->top);
  g_free (fixture->reference);
  test_tmpdir_free (fixture->dir);
}

/* Writes into @path, whose clusters are 64 KiB, each kind of cluster next
 * to the others, with boundaries off the cluster alignment so that a
 * wrong offset shows: data clusters partly copied from a backing file,
 * a compressed cluster between two data clusters, zero clusters, and
 * holes. */
static void
write_clusters (const char *path)
{
  const char *const commands[] = {
    "write -P 0x41 100000 300000",
    "write -P 0x43 999000 49576",
    "write -c -P 0x42 1M 64k",
    "write -P 0x44 1114112 70001",
    "write -z 2M 128k",
    "write -P 0x45 3157000 1000000",
    "write -P 0x46 8387608 1000",
    NULL,
  };

  test_qemu_io (path, "qcow2", commands);
}

static void
convert_reference (Fixture *fixture, const char *image)
{
  const char *argv[]
      = { "qemu-img", "convert",          "-f", "qcow2", "-O", "raw",
          image,      fixture->reference, NULL };

  test_run_ok (argv);
}

/* A backing file full of its own data under a top layer with every kind
 * of cluster, and what qemu reads in it. */
static void
make_chain (Fixture *fixture)
{
  const char *const base_data[] = { "write -P 0x11 0 8M", NULL };

  test_qemu_img_create (fixture->base, "qcow2", "8M", NULL, NULL);
  test_qemu_io (fixture->base, "qcow2", base_data);
  test_qemu_img_create (fixture->top, "qcow2", NULL, fixture->base, "qcow2");
  write_clusters (fixture->top);
  convert_reference (fixture, fixture->top);
}

static ImgxferBackend *
open_qcow2 (const char *path, const char *member, gboolean writable)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend;

  imgxfer_open_options_set_format (options, "qcow2");
  imgxfer_open_options_set_member (options, member);
  /* A member's backing file lies outside its archive: read on purpose. */
  imgxfer_open_options_set_allow_external_files (options, member != NULL);
  imgxfer_open_options_set_writable (options, writable);
  backend = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (backend), ==, "ImgxferQemuBackend");
  return backend;
}

/* Reads all of @backend in requests of odd sizes, from a clone (which
 * shares the direct reads), and compares with the reference. */
static void
assert_odd_reads_match (Fixture *fixture, ImgxferBackend *backend)
{
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;

  g_file_get_contents (fixture->reference, &expected, &size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, SIZE);
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);

  actual = g_malloc (size);
  for (gsize offset = 0; offset < size; offset += ODD_CHUNK)
    {
      imgxfer_source_pread (IMGXFER_SOURCE (clone), actual + offset,
                            MIN (ODD_CHUNK, size - offset), offset, NULL,
                            &error);
      g_assert_no_error (error);
    }
  for (gsize offset = 0; offset < size; offset++)
    if (actual[offset] != expected[offset])
      g_error ("byte %" G_GSIZE_FORMAT ": read 0x%02x, qemu-img reads 0x%02x",
               offset, (guint8)actual[offset], (guint8)expected[offset]);
}

static gboolean
read_range (ImgxferBackend *backend, guint64 offset, guint8 *buffer,
            gsize length, GError **error)
{
  return imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, length, offset,
                               NULL, error);
}

/* With qemu-nbd gone, a read succeeds only when it does not need it. */
static void
kill_qemu_nbd (void)
{
  int pid = test_find_child ("qemu-nbd");

  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_true (test_wait_process_gone (pid, 10));
}

static void
assert_direct_read (ImgxferBackend *backend, guint64 offset, guint8 byte)
{
  guint8 buffer[4096];
  g_autoptr (GError) error = NULL;

  g_assert_true (read_range (backend, offset, buffer, sizeof buffer, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < sizeof buffer; i++)
    g_assert_cmpuint (buffer[i], ==, byte);
}

/* The data of the top layer and of the backing file come from the image
 * files, the compressed cluster from qemu-nbd. */
static void
assert_direct_reads (ImgxferBackend *backend)
{
  guint8 buffer[4096];
  g_autoptr (GError) error = NULL;

  kill_qemu_nbd ();

  assert_direct_read (backend, DIRECT_OFFSET, 0x45);
  assert_direct_read (backend, BACKING_OFFSET, BACKING_BYTE);

  g_assert_false (
      read_range (backend, COMPRESSED_OFFSET, buffer, sizeof buffer, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
}

/* Reading through qemu-nbd only: nothing is read once it is gone. */
static void
assert_no_direct_reads (ImgxferBackend *backend, guint64 data_offset)
{
  guint8 buffer[4096];
  g_autoptr (GError) error = NULL;

  kill_qemu_nbd ();
  g_assert_false (
      read_range (backend, data_offset, buffer, sizeof buffer, &error));
  g_assert_nonnull (error);
}

static void
assert_cli_convert_matches (Fixture *fixture, const char *const *args,
                            const char *image)
{
  g_autofree char *target = g_build_filename (fixture->dir, "out.raw", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;

  g_ptr_array_add (argv, "convert");
  g_ptr_array_add (argv, "-f");
  g_ptr_array_add (argv, "qcow2");
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, target);
  g_ptr_array_add (argv, NULL);

  g_assert_cmpint (test_run_cli ((const char *const *)argv->pdata, NULL, &err),
                   ==, 0);
  test_assert_images_equal (image, "qcow2", target, "raw", FALSE);
  test_assert_images_equal (fixture->reference, "raw", target, "raw", FALSE);
}

/* What imgxfer reads in the qcow2 @url (the top layer, or an archive
 * holding it as @member), converted or read in odd requests, is what
 * qemu-img reads. Returns the image, opened. */
static ImgxferBackend *
assert_reads_match (Fixture *fixture, const char *url, const char *member)
{
  const char *const args[] = { url, "--allow-external-files",
                               member ? "--member" : NULL, member, NULL };
  ImgxferBackend *backend;

  assert_cli_convert_matches (fixture, args, fixture->top);
  backend = open_qcow2 (url, member, FALSE);
  assert_odd_reads_match (fixture, backend);
  return backend;
}

/* Creates the qcow2 @path keeping its data in another file. */
static void
create_with_data_file (Fixture *fixture, const char *path)
{
  g_autofree char *data_file
      = g_build_filename (fixture->dir, "data.raw", NULL);
  g_autofree char *option = g_strconcat ("data_file=", data_file, NULL);
  const char *const create[]
      = { "qemu-img", "create", "-f", "qcow2", "-o", option, path, "8M", NULL };

  test_run_ok (create);
}

/* Every byte of a chain with every kind of cluster, read partly direct
 * and partly through qemu-nbd, is what qemu reads. */
static void
test_chain (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;

  make_chain (fixture);
  backend = assert_reads_match (fixture, fixture->top, NULL);
  assert_direct_reads (backend);
}

/* The same from a member of an archive: the map's offsets are the
 * member's, not the archive's. */
static void
test_tar_member (Fixture *fixture, gconstpointer data)
{
  g_autofree char *ovf = g_build_filename (fixture->dir, "vm.ovf", NULL);
  g_autofree char *ova = g_build_filename (fixture->dir, "vm.ova", NULL);
  const char *const paths[] = { ovf, fixture->top, NULL };
  const char *const names[] = { "vm.ovf", "disk.qcow2", NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  guint64 offset, size;

  if (imgxfer_driver_lookup_name ("tar") == G_TYPE_INVALID)
    {
      g_test_skip ("no tar driver");
      return;
    }

  /* The backing file is found by its absolute name. */
  make_chain (fixture);
  test_write_pattern (ovf, 0, 1234, 'o');
  test_create_ova (ova, paths, names, &offset, &size);

  backend = assert_reads_match (fixture, ova, "disk.qcow2");
  assert_direct_reads (backend);
}

/* A raw backing file, partly sparse, is read directly too. */
static void
test_raw_backing (Fixture *fixture, gconstpointer data)
{
  g_autofree char *base = g_build_filename (fixture->dir, "base.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;

  test_create_sparse (base, SIZE);
  test_write_pattern (base, 12345, 6 * MiB, BACKING_BYTE);
  test_qemu_img_create (fixture->top, "qcow2", NULL, base, "raw");
  write_clusters (fixture->top);
  convert_reference (fixture, fixture->top);

  backend = assert_reads_match (fixture, fixture->top, NULL);
  assert_direct_reads (backend);
}

/* With an external data file, qemu-img map's offsets are in that file:
 * everything goes through qemu-nbd. */
static void
test_external_data_file (Fixture *fixture, gconstpointer data)
{
  /* Data only where the qcow2 file has metadata: read from there, it
   * would show. qcow2 cannot compress into a data file. */
  const char *const commands[]
      = { "write -P 0x41 1000 100000", "write -z 128k 64k", NULL };
  g_autoptr (ImgxferBackend) backend = NULL;

  create_with_data_file (fixture, fixture->top);
  test_qemu_io (fixture->top, "qcow2", commands);
  convert_reference (fixture, fixture->top);

  backend = assert_reads_match (fixture, fixture->top, NULL);
  assert_no_direct_reads (backend, 2000);
}

/* A backing file with an external data file is read through qemu-nbd,
 * the top layer still directly. */
static void
test_backing_data_file (Fixture *fixture, gconstpointer data)
{
  /* As in test_external_data_file(). */
  const char *const base_data[] = { "write -P 0x11 0 192k", NULL };
  const char *const top_data[] = { "write -P 0x45 3157000 1000000", NULL };
  g_autoptr (ImgxferBackend) backend = NULL;

  create_with_data_file (fixture, fixture->base);
  test_qemu_io (fixture->base, "qcow2", base_data);
  test_qemu_img_create (fixture->top, "qcow2", NULL, fixture->base, "qcow2");
  test_qemu_io (fixture->top, "qcow2", top_data);
  convert_reference (fixture, fixture->top);

  backend = assert_reads_match (fixture, fixture->top, NULL);
  assert_no_direct_reads (backend, 1000);
  assert_direct_read (backend, DIRECT_OFFSET, 0x45);
}

/* A writable image may change under a map: qemu-nbd reads it all (and
 * keeps qemu-img map out with its write lock). */
static void
test_writable (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;

  make_chain (fixture);
  backend = open_qcow2 (fixture->top, NULL, TRUE);
  assert_odd_reads_match (fixture, backend);
  assert_no_direct_reads (backend, DIRECT_OFFSET);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/qemu-direct-read/chain", test_chain);
  ADD ("/qemu-direct-read/tar-member", test_tar_member);
  ADD ("/qemu-direct-read/raw-backing", test_raw_backing);
  ADD ("/qemu-direct-read/not/external-data-file", test_external_data_file);
  ADD ("/qemu-direct-read/not/backing-data-file", test_backing_data_file);
  ADD ("/qemu-direct-read/not/writable", test_writable);

  status = g_test_run ();

  /* Every backend stopped its qemu-nbd. */
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
  return status;
}
