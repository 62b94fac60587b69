/* external-files.c: an image inside an archive reads no host file
 *
 * OVAs whose disk names a file of the host (a qcow2 backing file, a qcow2
 * external data file, a vmdk descriptor's extent) are refused by every
 * command that reads the disk, unless --allow-external-files (or the open
 * option) lets them read it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define HOST_BYTE 0x5e

typedef struct
{
  char *dir;
  char *host;   /* the host file the member names */
  char *member; /* the member's image, before it is archived */
  char *ova;
  const char *name; /* its name in the archive */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
  f->host = g_build_filename (f->dir, "host-secret.raw", NULL);
  f->ova = g_build_filename (f->dir, "vm.ova", NULL);
  test_create_sparse (f->host, MiB);
  test_write_pattern (f->host, 0, 64 * 1024, HOST_BYTE);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_free (f->host);
  g_free (f->member);
  g_free (f->ova);
  test_tmpdir_free (f->dir);
}

static void
archive (Fixture *f)
{
  const char *const paths[] = { f->member, NULL };
  const char *const names[] = { f->name, NULL };
  guint64 offset, size;

  test_create_ova (f->ova, paths, names, &offset, &size);
}

/* A qcow2 whose backing file is @backing (of @format). */
static void
make_qcow2_with_backing (Fixture *f, const char *backing, const char *format)
{
  f->name = "disk.qcow2";
  f->member = g_build_filename (f->dir, "disk.qcow2", NULL);
  test_qemu_img_create (f->member, "qcow2", NULL, backing, format);
  archive (f);
}

/* A vmdk descriptor whose one extent is the host file, flat. */
static void
make_vmdk_descriptor (Fixture *f)
{
  g_autofree char *text = g_strdup_printf ("# Disk DescriptorFile\n"
                                           "version=1\n"
                                           "CID=fffffffe\n"
                                           "parentCID=ffffffff\n"
                                           "createType=\"monolithicFlat\"\n"
                                           "\n"
                                           "RW %d FLAT \"%s\" 0\n"
                                           "\n"
                                           "ddb.virtualHWVersion = \"4\"\n"
                                           "ddb.adapterType = \"ide\"\n",
                                           MiB / 512, f->host);

  f->name = "disk.vmdk";
  f->member = g_build_filename (f->dir, "disk.vmdk", NULL);
  g_assert_true (g_file_set_contents (f->member, text, -1, NULL));
  archive (f);
}

/* A qcow2 keeping its data in the host file. */
static void
make_qcow2_with_data_file (Fixture *f)
{
  g_autofree char *option = g_strconcat ("data_file=", f->host, NULL);
  g_autofree char *path = g_build_filename (f->dir, "disk.qcow2", NULL);
  const char *const create[] = { "qemu-img", "create", "-q", "-f", "qcow2",
                                 "-o",       option,   path, "1M", NULL };
  /* The image maps the host file's first 64 KiB, rewriting them as they
   * are. */
  const char *const map[] = { "write -P 94 0 64k", NULL };

  f->name = "disk.qcow2";
  f->member = g_steal_pointer (&path);
  test_run_ok (create);
  test_qemu_io (f->member, "qcow2", map);
  archive (f);
}

/* Each command that reads the member refuses it: status 1, one line
 * naming the archive, the member and the host file; no output image; the
 * archive and the host file unchanged. */
static void
assert_refused (Fixture *f, const char *named)
{
  g_autofree char *out = g_build_filename (f->dir, "out.raw", NULL);
  g_autofree char *tar_url
      = g_strconcat ("tar://", f->ova, "?member=", f->name, NULL);
  const char *const convert[]
      = { "convert", "--member", f->name, f->ova, out, NULL };
  const char *const convert_url[] = { "convert", tar_url, out, NULL };
  const char *const convert_qcow2[]
      = { "convert", "-O", "qcow2", "--member", f->name, f->ova, out, NULL };
  const char *const checksum[]
      = { "checksum", "--member", f->name, f->ova, NULL };
  const char *const extents[]
      = { "extents", "--member", f->name, f->ova, NULL };
  const char *const *const commands[]
      = { convert, convert_url, convert_qcow2, checksum, extents };
  g_autofree char *ova_before = test_file_digest (f->ova);
  g_autofree char *host_before = test_file_digest (f->host);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *stdout_text = NULL;
      g_autofree char *ova_after = NULL;
      g_autofree char *host_after = NULL;

      g_assert_cmpint (test_run_cli (commands[i], &stdout_text, &err), ==, 1);
      g_test_message ("%s %s", commands[i][0], err);
      g_assert_true (g_str_has_prefix (err, "imgxfer: "));
      g_assert_nonnull (strstr (err, f->name));
      g_assert_nonnull (strstr (err, named));
      g_assert_nonnull (strstr (err, "outside the archive"));
      g_assert_nonnull (strstr (err, "--allow-external-files"));
      g_assert_cmpint (strchr (err, '\n') - err, ==, strlen (err) - 1);
      g_assert_cmpstr (stdout_text, ==, "");
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
      ova_after = test_file_digest (f->ova);
      host_after = test_file_digest (f->host);
      g_assert_cmpstr (ova_after, ==, ova_before);
      g_assert_cmpstr (host_after, ==, host_before);
    }
}

/* With the option, the host file's bytes are read, as asked. */
static void
assert_allowed (Fixture *f)
{
  g_autofree char *out = g_build_filename (f->dir, "out.raw", NULL);
  const char *const convert[]
      = { "convert", "--allow-external-files", "--member", f->name, f->ova, out,
          NULL };
  g_autofree char *data = NULL;
  gsize length;

  g_assert_cmpint (test_run_cli (convert, NULL, NULL), ==, 0);
  g_assert_true (g_file_get_contents (out, &data, &length, NULL));
  g_assert_cmpuint (length, >=, 64 * 1024);
  g_assert_cmpint ((guint8)data[0], ==, HOST_BYTE);
  g_assert_cmpint ((guint8)data[64 * 1024 - 1], ==, HOST_BYTE);
}

static void
test_backing_host_file (Fixture *f, gconstpointer data)
{
  make_qcow2_with_backing (f, f->host, "raw");
  assert_refused (f, f->host);
  assert_allowed (f);
}

/* A backing file named by a path of the system, which never is opened:
 * the refusal comes from the header alone. */
static void
test_backing_system_file (Fixture *f, gconstpointer data)
{
  make_qcow2_with_backing (f, "/etc/passwd", "raw");
  assert_refused (f, "/etc/passwd");
}

static void
test_vmdk_extent (Fixture *f, gconstpointer data)
{
  make_vmdk_descriptor (f);
  assert_refused (f, f->host);
  assert_allowed (f);
}

static void
test_data_file (Fixture *f, gconstpointer data)
{
  make_qcow2_with_data_file (f);
  assert_refused (f, f->host);
  assert_allowed (f);
}

/* info and measure describe a member without opening its backing file:
 * here a FIFO, whose opening would block until the time limit. */
static void
test_describe_does_not_follow (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->dir, "fifo", NULL);
  g_autofree char *path = g_build_filename (f->dir, "disk.qcow2", NULL);
  const char *const create[]
      = { "qemu-img", "create", "-q",  "-u", "-f", "qcow2", "-b",
          fifo,       "-F",     "raw", path, "1M", NULL };
  const char *const info[] = { "timeout", "20",       g_getenv ("IMGXFER_CLI"),
                               "info",    "--member", "disk.qcow2",
                               f->ova,    NULL };
  const char *const measure[]
      = { "timeout",  "20",         g_getenv ("IMGXFER_CLI"),
          "measure",  "-O",         "qcow2",
          "--member", "disk.qcow2", f->ova,
          NULL };
  g_autofree char *out = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  test_run_ok (create);
  f->name = "disk.qcow2";
  f->member = g_steal_pointer (&path);
  archive (f);

  g_assert_cmpint (test_run (info, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, fifo));
  g_assert_cmpint (test_run (measure, NULL, NULL), ==, 0);
  assert_refused (f, fifo);
}

/* The library refuses with IMGXFER_ERROR_BAD_IMAGE unless the open option
 * allows it; an image outside an archive keeps its chain. */
static void
test_library (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) refused = NULL;
  g_autoptr (ImgxferBackend) allowed = NULL;
  g_autoptr (ImgxferBackend) plain = NULL;
  g_autoptr (GError) error = NULL;

  make_qcow2_with_backing (f, f->host, "raw");
  imgxfer_open_options_set_member (options, f->name);
  refused = imgxfer_open (f->ova, options, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE);
  g_assert_nonnull (strstr (error->message, f->host));
  g_clear_error (&error);

  imgxfer_open_options_set_allow_external_files (options, TRUE);
  allowed = imgxfer_open (f->ova, options, NULL, &error);
  g_assert_no_error (error);
  test_backend_assert_bytes (allowed, 0, 64 * 1024, HOST_BYTE);

  plain = imgxfer_open (f->member, NULL, NULL, &error);
  g_assert_no_error (error);
  test_backend_assert_bytes (plain, 0, 64 * 1024, HOST_BYTE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add ("/external-files/" path, Fixture, NULL, fixture_setup, func,     \
              fixture_teardown)
  ADD ("qcow2-backing/host-file", test_backing_host_file);
  ADD ("qcow2-backing/system-file", test_backing_system_file);
  ADD ("vmdk-extent", test_vmdk_extent);
  ADD ("qcow2-data-file", test_data_file);
  ADD ("describe-does-not-follow", test_describe_does_not_follow);
  ADD ("library", test_library);

  return g_test_run ();
}
