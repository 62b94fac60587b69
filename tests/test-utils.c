/* test-utils.c: fixtures shared by the unit tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "test-utils.h"

char *
test_tmpdir_new (void)
{
  g_autoptr (GError) error = NULL;
  char *path = g_dir_make_tmp ("imgxfer-test-XXXXXX", &error);

  g_assert_no_error (error);
  return path;
}

void
test_tmpdir_free (char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  if (path != NULL)
    g_assert_cmpint (test_run (argv, NULL, NULL), ==, 0);
  g_free (path);
}

void
test_write_pattern (const char *path, guint64 offset, gsize length,
                    guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  int fd = g_open (path, O_WRONLY | O_CREAT, 0644);

  g_assert_cmpint (fd, >=, 0);
  memset (buffer, byte, length);
  g_assert_cmpint (pwrite (fd, buffer, length, offset), ==, (gssize)length);
  g_assert_cmpint (close (fd), ==, 0);
}

void
test_create_sparse (const char *path, guint64 size)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);
}

int
test_run (const char *const *argv, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;

  process = g_subprocess_newv (argv,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                               &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text,
                                 &stderr_text, &error);
  g_assert_no_error (error);

  if (out)
    *out = g_steal_pointer (&stdout_text);
  if (err)
    *err = g_steal_pointer (&stderr_text);
  else if (stderr_text && *stderr_text)
    g_test_message ("%s: %s", argv[0], stderr_text);

  return g_subprocess_get_if_exited (process)
             ? g_subprocess_get_exit_status (process)
             : 128 + g_subprocess_get_term_sig (process);
}

int
test_run_cli (const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *cli = g_getenv ("IMGXFER_CLI");

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (char *)cli);
  for (; *args; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);

  return test_run ((const char *const *)argv->pdata, out, err);
}

void
test_assert_images_equal (const char *path1, const char *format1,
                          const char *path2, const char *format2,
                          gboolean strict)
{
  const char *argv[] = { "qemu-img", "compare", "-q", "-f", format1,
                         "-F", format2, path1, path2,
                         strict ? "-s" : NULL, NULL };
  g_autofree char *err = NULL;
  int status = test_run (argv, NULL, &err);

  if (status != 0)
    g_error ("qemu-img compare %s %s%s: exit %d: %s", path1, path2,
             strict ? " (strict)" : "", status, err);
}

ImgxferBackend *
test_open (const char *url, gboolean writable)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend;

  imgxfer_open_options_set_writable (options, writable);
  imgxfer_open_options_set_format (options, "raw");
  backend = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  return backend;
}
