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

guint64
test_file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

GPtrArray *
test_fd_targets (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  GPtrArray *targets = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *link = g_build_filename (path, name, NULL);
      char *target = g_file_read_link (link, NULL);

      /* A descriptor closed meanwhile has none. */
      if (target)
        g_ptr_array_add (targets, target);
    }
  return targets;
}

char *
test_file_digest (const char *path)
{
  g_autofree char *data = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &data, &length, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *)data,
                                      length);
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

void
test_run_ok (const char *const *argv)
{
  g_autofree char *err = NULL;
  int status = test_run (argv, NULL, &err);

  if (status != 0)
    g_error ("%s %s: exit %d: %s", argv[0], argv[1], status, err);
}

void
test_qemu_img_create (const char *path,
                      const char *format,
                      const char *size,
                      const char *backing,
                      const char *backing_format)
{
  const char *plain[] = { "qemu-img", "create", "-q", "-f", format, path,
                          size, NULL };
  const char *chained[] = { "qemu-img", "create", "-q", "-f", format,
                            "-b", backing, "-F", backing_format, path,
                            NULL };

  test_run_ok (backing ? chained : plain);
}

void
test_qemu_io (const char *path, const char *format,
              const char *const *commands)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, "qemu-io");
  g_ptr_array_add (argv, "-f");
  g_ptr_array_add (argv, (char *)format);
  for (; *commands != NULL; commands++)
    {
      g_ptr_array_add (argv, "-c");
      g_ptr_array_add (argv, (char *)*commands);
    }
  g_ptr_array_add (argv, (char *)path);
  g_ptr_array_add (argv, NULL);
  test_run_ok ((const char *const *)argv->pdata);
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

GSubprocess *
test_spawn_cli (GSubprocessLauncher *launcher, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, (char *)g_getenv ("IMGXFER_CLI"));
  for (; *args; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

int
test_wait_process (GSubprocess *process, char **out, char **err)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (process))
    return 128 + g_subprocess_get_term_sig (process);
  return g_subprocess_get_exit_status (process);
}

void
test_wait_for_progress (GSubprocess *process)
{
  GInputStream *err = g_subprocess_get_stderr_pipe (process);
  g_autoptr (GString) seen = g_string_new (NULL);
  char c;

  while (!g_str_has_suffix (seen->str, "/100%)"))
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_input_stream_read (err, &c, 1, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        g_error ("the command ended before its copy started: %s", seen->str);
      g_string_append_c (seen, c);
    }
}

void
test_make_ca (const char *ca, const char *key, const char *subject)
{
  const char *const argv[] = { "openssl",
                               "req",
                               "-x509",
                               "-newkey",
                               "ec",
                               "-pkeyopt",
                               "ec_paramgen_curve:prime256v1",
                               "-nodes",
                               "-days",
                               "1",
                               "-subj",
                               subject,
                               "-keyout",
                               key,
                               "-out",
                               ca,
                               NULL };

  test_run_ok (argv);
}

void
test_sign_certificate (const char *dir, const char *subject, const char *issuer,
                       const char *issuer_key, const char *extensions,
                       const char *cert, const char *key)
{
  g_autofree char *csr = g_build_filename (dir, "req.csr", NULL);
  g_autofree char *ext = g_build_filename (dir, "ext.cnf", NULL);
  const char *const make_req[]
      = { "openssl", "req",      "-newkey",
          "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes",  "-subj",    subject,
          "-keyout", key,        "-out",
          csr,       NULL };
  const char *const sign[]
      = { "openssl", "x509", "-req",     "-in",      csr,
          "-CA",     issuer, "-CAkey",   issuer_key, "-CAcreateserial",
          "-days",   "1",    "-extfile", ext,        "-out",
          cert,      NULL };

  g_assert_true (g_file_set_contents (ext, extensions, -1, NULL));
  test_run_ok (make_req);
  test_run_ok (sign);
}

void
test_make_certificates (const char *dir, const char *ca, const char *cert,
                        const char *key)
{
  g_autofree char *ca_key = g_build_filename (dir, "ca.key", NULL);

  test_make_ca (ca, ca_key, "/CN=test CA");
  test_sign_certificate (dir, "/CN=localhost", ca, ca_key,
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\n", cert,
                         key);
}

JsonNode *
test_parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json_parser_get_root (parser));
  return json_node_copy (json_parser_get_root (parser));
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

void
test_create_ova (const char *archive,
                 const char *const *paths,
                 const char *const *names,
                 guint64 *offset,
                 guint64 *size)
{
  static const char script[]
      = "import sys, tarfile\n"
        "ova, files = sys.argv[1], sys.argv[2:]\n"
        "with tarfile.open(ova, 'w') as tar:\n"
        "    for path, name in zip(files[0::2], files[1::2]):\n"
        "        tar.add(path, arcname=name)\n"
        "with tarfile.open(ova) as tar:\n"
        "    m = tar.getmember(files[1])\n"
        "    print(m.offset_data, m.size)\n";
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_auto (GStrv) fields = NULL;

  /* The python3 on PATH may lack tarfile; Debian's has it. */
  g_ptr_array_add (argv, "/usr/bin/python3");
  g_ptr_array_add (argv, "-c");
  g_ptr_array_add (argv, (char *)script);
  g_ptr_array_add (argv, (char *)archive);
  for (; *paths != NULL; paths++, names++)
    {
      g_ptr_array_add (argv, (char *)*paths);
      g_ptr_array_add (argv, (char *)*names);
    }
  g_ptr_array_add (argv, NULL);

  g_assert_cmpint (test_run ((const char *const *)argv->pdata, &out, NULL),
                   ==, 0);
  fields = g_strsplit (g_strstrip (out), " ", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 2);
  *offset = g_ascii_strtoull (fields[0], NULL, 10);
  *size = g_ascii_strtoull (fields[1], NULL, 10);
  g_assert_cmpuint (*offset, >, 0);
}

char *
test_top_layer_map (const char *path)
{
  g_autofree char *filename = g_strdup_printf (
      "json:{\"driver\":\"qcow2\",\"backing\":null,"
      "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}",
      path);
  const char *argv[] = { "qemu-img", "map", "--output=json", filename,
                         NULL };
  g_autoptr (GString) map = g_string_new (NULL);
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *entries;

  g_assert_cmpint (test_run (argv, &out, NULL), ==, 0);
  root = test_parse_json (out);
  entries = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *e = json_array_get_object_element (entries, i);

      g_string_append_printf (
          map,
          "%" G_GINT64_FORMAT "+%" G_GINT64_FORMAT " present=%d data=%d "
          "zero=%d\n",
          json_object_get_int_member (e, "start"),
          json_object_get_int_member (e, "length"),
          json_object_get_boolean_member (e, "present"),
          json_object_get_boolean_member (e, "data"),
          json_object_get_boolean_member (e, "zero"));
    }
  return g_string_free (g_steal_pointer (&map), FALSE);
}

gint64
test_qemu_img_json_int (const char *command, const char *path,
                        const char *member)
{
  const char *argv[] = { "qemu-img", command, "--output=json", path, NULL };
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;

  g_assert_cmpint (test_run (argv, &out, NULL), ==, 0);
  root = test_parse_json (out);
  return json_object_get_int_member (json_node_get_object (root), member);
}
