/* destination-safety.c: `imgxfer convert` never writes a file its source
 * reads, whatever the file's name, the format, the backing chain or the
 * archive around it; imgxfer_open_destination() refuses the same for
 * library callers
 *
 * Images are made by qemu-img and qemu-io; each refusal is checked for
 * its exit code, its message and a source left byte for byte as it was.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "test-utils.h"

#define MiB (1024 * 1024)

/* An image of @format with 1 MiB of data written by qemu-io. */
static char *
make_image (const char *dir, const char *name, const char *format)
{
  char *path = g_build_filename (dir, name, NULL);
  const char *const write[] = { "write -P 0x5a 0 1M", NULL };

  test_qemu_img_create (path, format, "8M", NULL, NULL);
  test_qemu_io (path, format, write);
  return path;
}

/* Runs `imgxfer convert ARGS...` in @dir, so that relative names work,
 * and asserts that it fails with status 1, a one-line message naming
 * @destination and @source, and leaves each of @files (NULL-terminated)
 * as it was. */
static void
assert_refused (const char *dir, const char *const *args,
                const char *destination, const char *source,
                const char *const *files)
{
  g_autoptr (GPtrArray) digests = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *err = NULL;
  g_autofree char *prefix = g_strdup_printf ("imgxfer: %s: ", destination);
  int status;

  for (guint i = 0; files[i] != NULL; i++)
    g_ptr_array_add (digests, test_file_digest (files[i]));

  g_assert_cmpint (g_chdir (dir), ==, 0);
  status = test_run_cli (args, NULL, &err);
  g_assert_cmpint (g_chdir (cwd), ==, 0);

  g_test_message ("%s", err);
  g_assert_cmpint (status, ==, 1);
  g_assert_true (g_str_has_prefix (err, prefix));
  g_assert_nonnull (strstr (err, "which the source "));
  g_assert_nonnull (strstr (err, source));
  g_assert_cmpint (strchr (err, '\n') - err, ==, strlen (err) - 1);
  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *digest = test_file_digest (files[i]);

      g_assert_cmpstr (digest, ==, g_ptr_array_index (digests, i));
    }
}

/* The image converted into itself, as its own format or as raw. */
static void
test_same_image (gconstpointer data)
{
  const char *format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *name = g_strconcat ("disk.", format, NULL);
  g_autofree char *path = make_image (dir, name, format);
  const char *const files[] = { path, NULL };
  const char *const with_format[]
      = { "convert", "-O", format, name, name, NULL };
  const char *const raw[] = { "convert", name, name, NULL };
  const char *const existing[]
      = { "convert", "-n", "-f", format, name, name, NULL };

  assert_refused (dir, with_format, name, name, files);
  assert_refused (dir, raw, name, name, files);
  assert_refused (dir, existing, name, name, files);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* The destination names the source image another way. */
static void
test_spelling (gconstpointer data)
{
  const char *spelling = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = make_image (dir, "disk.qcow2", "qcow2");
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autofree char *absolute = g_build_filename (dir, "disk.qcow2", NULL);
  const char *destination = NULL;
  const char *const files[] = { path, NULL };

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  if (g_str_equal (spelling, "relative"))
    destination = "sub/../disk.qcow2";
  else if (g_str_equal (spelling, "absolute"))
    destination = absolute;
  else if (g_str_equal (spelling, "symlink"))
    {
      g_autofree char *soft = g_build_filename (sub, "link.qcow2", NULL);

      g_assert_cmpint (symlink ("../disk.qcow2", soft), ==, 0);
      destination = "sub/link.qcow2";
    }
  else if (g_str_equal (spelling, "hardlink"))
    {
      g_autofree char *hard = g_build_filename (sub, "hard.qcow2", NULL);

      g_assert_cmpint (link (path, hard), ==, 0);
      destination = "sub/hard.qcow2";
    }
  else if (g_str_equal (spelling, "file-url"))
    {
      destination = g_filename_to_uri (absolute, NULL, NULL);
      g_free (g_steal_pointer (&absolute));
      absolute = (char *)destination;
    }
  g_assert_nonnull (destination);

  {
    const char *const with_format[]
        = { "convert", "-O", "qcow2", "disk.qcow2", destination, NULL };
    const char *const raw[] = { "convert", "disk.qcow2", destination, NULL };

    assert_refused (dir, with_format, destination, "disk.qcow2", files);
    assert_refused (dir, raw, destination, "disk.qcow2", files);
  }
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* base <- mid <- top: neither lower layer may be the destination of a
 * copy of top. */
static void
test_chain (gconstpointer data)
{
  const char *base_format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *base_name = g_strconcat ("base.", base_format, NULL);
  g_autofree char *base = make_image (dir, base_name, base_format);
  g_autofree char *mid = g_build_filename (dir, "mid.qcow2", NULL);
  g_autofree char *top = g_build_filename (dir, "top.qcow2", NULL);
  const char *const write_mid[] = { "write -P 0x6b 2M 1M", NULL };
  const char *const write_top[] = { "write -P 0x7c 4M 1M", NULL };
  const char *const files[] = { base, mid, top, NULL };
  const char *const layers[] = { base_name, "mid.qcow2", NULL };

  test_qemu_img_create (mid, "qcow2", NULL, base_name, base_format);
  test_qemu_io (mid, "qcow2", write_mid);
  test_qemu_img_create (top, "qcow2", NULL, "mid.qcow2", "qcow2");
  test_qemu_io (top, "qcow2", write_top);

  for (guint i = 0; layers[i] != NULL; i++)
    {
      const char *const to_qcow2[]
          = { "convert", "-O", "qcow2", "top.qcow2", layers[i], NULL };
      const char *const to_raw[] = { "convert", "top.qcow2", layers[i], NULL };
      const char *const checksum[]
          = { "convert", "--checksum", "top.qcow2", layers[i], NULL };
      const char *const existing[]
          = { "convert", "-n", "top.qcow2", layers[i], NULL };
      const char *const shallow[] = { "convert",   "--shallow", "-O", "qcow2",
                                      "top.qcow2", layers[i],   NULL };

      assert_refused (dir, to_qcow2, layers[i], "top.qcow2", files);
      assert_refused (dir, to_raw, layers[i], "top.qcow2", files);
      assert_refused (dir, checksum, layers[i], "top.qcow2", files);
      assert_refused (dir, existing, layers[i], "top.qcow2", files);
      /* A shallow copy reads no layer below, but replacing one would
       * still change what the source image holds. */
      assert_refused (dir, shallow, layers[i], "top.qcow2", files);
    }
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* A member of an OVA copied onto the OVA holding it. */
static void
test_archive (gconstpointer data)
{
  const char *format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *name = g_strconcat ("disk.", format, NULL);
  g_autofree char *disk = make_image (dir, name, format);
  g_autofree char *ova = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *url = NULL;
  g_autofree char *escaped = NULL;
  const char *const paths[] = { disk, NULL };
  const char *const names[] = { name, NULL };
  const char *const files[] = { ova, NULL };
  guint64 offset, size;

  test_create_ova (ova, paths, names, &offset, &size);
  escaped = g_uri_escape_string (ova, "/", FALSE);
  url = g_strconcat ("tar://", escaped, "?member=", name, NULL);

  {
    const char *const member[]
        = { "convert", "--member", name, "vm.ova", "vm.ova", NULL };
    const char *const with_format[] = { "convert", "--member", name,     "-O",
                                        "qcow2",   "vm.ova",   "vm.ova", NULL };
    const char *const tar_url[] = { "convert", url, "vm.ova", NULL };

    assert_refused (dir, member, "vm.ova", "vm.ova", files);
    assert_refused (dir, with_format, "vm.ova", "vm.ova", files);
    assert_refused (dir, tar_url, "vm.ova", url, files);
  }
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* A copy between different files still works, and the policy created
 * its destination at the source's size. */
static void
test_other_file_allowed (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = make_image (dir, "disk.qcow2", "qcow2");
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  const char *const args[] = { "convert", path, copy, NULL };

  g_assert_cmpint (test_run_cli (args, NULL, NULL), ==, 0);
  test_assert_images_equal (path, "qcow2", copy, "raw", FALSE);
  test_tmpdir_free (g_steal_pointer (&dir));
}

static ImgxferBackend *
open_source (const char *url)
{
  g_autoptr (GError) error = NULL;
  ImgxferBackend *source = imgxfer_open (url, NULL, NULL, &error);

  g_assert_no_error (error);
  return source;
}

static ImgxferOpenOptions *
format_options (const char *format)
{
  ImgxferOpenOptions *options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, format);
  return options;
}

/* The library call refuses each file of a chain through a symlink, and
 * leaves them as they were. */
static void
test_library_refuses_source_files (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *base = make_image (dir, "base.raw", "raw");
  g_autofree char *top = g_build_filename (dir, "top.qcow2", NULL);
  g_autofree char *alias = g_build_filename (dir, "link", NULL);
  g_autoptr (ImgxferBackend) source = NULL;
  g_autofree char *base_digest = test_file_digest (base);
  g_autofree char *top_digest = NULL;
  const char *const targets[] = { base, top, NULL };

  test_qemu_img_create (top, "qcow2", NULL, "base.raw", "raw");
  top_digest = test_file_digest (top);
  source = open_source (top);

  for (guint i = 0; targets[i] != NULL; i++)
    for (guint flags = 0; flags <= IMGXFER_DESTINATION_EXISTING; flags++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (ImgxferOpenOptions) options = format_options ("qcow2");
        g_autoptr (ImgxferBackend) destination = NULL;
        g_autofree char *digest = NULL;

        g_unlink (alias);
        g_assert_cmpint (symlink (targets[i], alias), ==, 0);
        destination = imgxfer_open_destination (
            alias, options, imgxfer_backend_get_size (source), source, NULL,
            NULL, flags, NULL, &error);
        g_assert_null (destination);
        g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
        g_assert_true (g_str_has_prefix (error->message, alias));
        g_assert_nonnull (strstr (error->message, top));
      }

  g_clear_object (&source);
  {
    g_autofree char *now_base = test_file_digest (base);
    g_autofree char *now_top = test_file_digest (top);

    g_assert_cmpstr (now_base, ==, base_digest);
    g_assert_cmpstr (now_top, ==, top_digest);
  }
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* What the arguments alone decide, before any file is touched. */
static void
test_library_refuses_arguments (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "new.img", NULL);
  struct
  {
    const char *url;
    const char *format;
    const char *backing;
    ImgxferDestinationFlags flags;
    int code;
    const char *message;
  } cases[] = {
    { path, "no-such-format", NULL, 0, IMGXFER_ERROR_NOT_SUPPORTED,
      "no driver for image format \"no-such-format\"" },
    { "nbd://localhost/x", "qcow2", NULL, 0, IMGXFER_ERROR_NOT_SUPPORTED,
      "needs a local destination" },
    { path, "qcow2", "base.qcow2", IMGXFER_DESTINATION_EXISTING,
      IMGXFER_ERROR_INVALID_ARGUMENT, "backing file" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferOpenOptions) options = format_options (cases[i].format);
      g_autoptr (ImgxferBackend) destination = imgxfer_open_destination (
          cases[i].url, options, MiB, NULL, cases[i].backing, NULL,
          cases[i].flags, NULL, &error);

      g_assert_null (destination);
      g_assert_error (error, IMGXFER_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (error->message, cases[i].url));
      g_assert_nonnull (strstr (error->message, cases[i].message));
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* An existing image must hold what will be written; a new one is made at
 * that size, replacing a smaller file. */
static void
test_library_sizes (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "small.raw", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferBackend) refused = NULL;
  g_autoptr (ImgxferBackend) created = NULL;

  test_create_sparse (path, MiB);
  refused
      = imgxfer_open_destination (path, NULL, 2 * MiB, NULL, NULL, NULL,
                                  IMGXFER_DESTINATION_EXISTING, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "is smaller than the image"));
  g_clear_error (&error);

  created = imgxfer_open_destination (path, NULL, 2 * MiB, NULL, NULL, NULL,
                                      IMGXFER_DESTINATION_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (created), ==, 2 * MiB);
  g_assert_true (imgxfer_backend_get_caps (created)
                 & IMGXFER_BACKEND_CAN_WRITE);
  g_clear_object (&created);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* The files a source reads, as its drivers list them. */
static void
test_library_local_files (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *base = make_image (dir, "base.qcow2", "qcow2");
  g_autofree char *top = g_build_filename (dir, "top.qcow2", NULL);
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) files = NULL;
  gboolean seen_base = FALSE, seen_top = FALSE;
  GStatBuf base_st, top_st;

  test_qemu_img_create (top, "qcow2", NULL, "base.qcow2", "qcow2");
  source = open_source (top);
  files = imgxfer_backend_get_local_files (source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (base, &base_st), ==, 0);
  g_assert_cmpint (g_stat (top, &top_st), ==, 0);
  for (guint i = 0; files[i] != NULL; i++)
    {
      GStatBuf st;

      g_test_message ("reads %s", files[i]);
      g_assert_cmpint (g_stat (files[i], &st), ==, 0);
      seen_base |= st.st_ino == base_st.st_ino && st.st_dev == base_st.st_dev;
      seen_top |= st.st_ino == top_st.st_ino && st.st_dev == top_st.st_dev;
    }
  g_assert_true (seen_base);
  g_assert_true (seen_top);
  g_clear_object (&source);
  test_tmpdir_free (g_steal_pointer (&dir));
}

int
main (int argc, char **argv)
{
  static const char *const formats[] = { "qcow2", "vmdk", "vdi", "raw" };
  static const char *const spellings[]
      = { "absolute", "relative", "symlink", "hardlink", "file-url" };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *same
          = g_strdup_printf ("/destination-safety/same-image/%s", formats[i]);
      g_autofree char *archive
          = g_strdup_printf ("/destination-safety/archive/%s", formats[i]);

      g_test_add_data_func (same, formats[i], test_same_image);
      g_test_add_data_func (archive, formats[i], test_archive);
    }
  for (guint i = 0; i < G_N_ELEMENTS (spellings); i++)
    {
      g_autofree char *name
          = g_strdup_printf ("/destination-safety/spelling/%s", spellings[i]);

      g_test_add_data_func (name, spellings[i], test_spelling);
    }
  g_test_add_data_func ("/destination-safety/chain/qcow2-base", "qcow2",
                        test_chain);
  g_test_add_data_func ("/destination-safety/chain/raw-base", "raw",
                        test_chain);
  g_test_add_func ("/destination-safety/other-file-allowed",
                   test_other_file_allowed);
  g_test_add_func ("/open-destination/refuses-source-files",
                   test_library_refuses_source_files);
  g_test_add_func ("/open-destination/refuses-arguments",
                   test_library_refuses_arguments);
  g_test_add_func ("/open-destination/sizes", test_library_sizes);
  g_test_add_func ("/open-destination/local-files", test_library_local_files);

  return g_test_run ();
}
