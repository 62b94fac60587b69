/* url.c: the one parser of image paths and URLs, on odd input
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-utils.h"

typedef struct
{
  const char *string;
  const char *scheme;
  const char *host;
  int port;
  const char *path;
  const char *param; /* "key=value", decoded */
  const char *normalized;
  const char *local_path; /* NULL: not a local file */
} Good;

static const Good good[] = {
  /* Plain paths are taken as they are: no decoding, no query. */
  { "disk.img", "", NULL, -1, "disk.img", NULL, "disk.img", "disk.img" },
  { "/tmp/a%20b?x=1#y", "", NULL, -1, "/tmp/a%20b?x=1#y", NULL,
    "/tmp/a%20b?x=1#y", "/tmp/a%20b?x=1#y" },
  { "./a:b", "", NULL, -1, "./a:b", NULL, "./a:b", "./a:b" },
  { "a/b:c", "", NULL, -1, "a/b:c", NULL, "a/b:c", "a/b:c" },
  { "junk%zz:x", "", NULL, -1, "junk%zz:x", NULL, "junk%zz:x", "junk%zz:x" },
  /* file: URLs, in any case, decoded. */
  { "file:///tmp/x.raw", "file", NULL, -1, "/tmp/x.raw", NULL,
    "file:///tmp/x.raw", "/tmp/x.raw" },
  { "FILE:///tmp/x.raw", "file", NULL, -1, "/tmp/x.raw", NULL,
    "file:///tmp/x.raw", "/tmp/x.raw" },
  { "File:/tmp/a%20b.raw", "file", NULL, -1, "/tmp/a b.raw", NULL,
    "file:/tmp/a%20b.raw", "/tmp/a b.raw" },
  { "file://localhost/tmp/x", "file", "localhost", -1, "/tmp/x", NULL,
    "file://localhost/tmp/x", "/tmp/x" },
  { "file://otherhost/tmp/x", "file", "otherhost", -1, "/tmp/x", NULL,
    "file://otherhost/tmp/x", NULL },
  /* NBD URIs: IPv6 hosts without brackets, missing ports. */
  { "NBD://[::1]:10809/exp", "nbd", "::1", 10809, "/exp", NULL,
    "nbd://[::1]:10809/exp", NULL },
  { "nbd://host/a%20b", "nbd", "host", -1, "/a b", NULL, "nbd://host/a%20b",
    NULL },
  { "nbd://host", "nbd", "host", -1, "", NULL, "nbd://host", NULL },
  { "Nbd+Unix:///e?socket=/run/my%20sock", "nbd+unix", NULL, -1, "/e",
    "socket=/run/my sock", "nbd+unix:///e?socket=/run/my%20sock", NULL },
  { "nbds+unix:///e?socket=/s", "nbds+unix", NULL, -1, "/e", "socket=/s",
    "nbds+unix:///e?socket=/s", NULL },
  /* qemu's older NBD forms, as the URIs they mean. */
  { "nbd:unix:/run/x.sock", "nbd+unix", NULL, -1, "/", "socket=/run/x.sock",
    "nbd+unix:///?socket=/run/x.sock", NULL },
  { "NBD:unix:/run/x.sock:exportname=a b", "nbd+unix", NULL, -1, "/a b",
    "socket=/run/x.sock", "nbd+unix:///a%20b?socket=/run/x.sock", NULL },
  { "nbd:localhost:10809", "nbd", "localhost", 10809, "/", NULL,
    "nbd://localhost:10809/", NULL },
  { "nbd:localhost:10809:exportname=sda", "nbd", "localhost", 10809, "/sda",
    NULL, "nbd://localhost:10809/sda", NULL },
  { "nbd:[::1]:10809:exportname=x", "nbd", "::1", 10809, "/x", NULL,
    "nbd://[::1]:10809/x", NULL },
  /* Members and names with reserved characters, percent-encoded. */
  { "TAR:///my%20vm.ova?member=disk%201%26x%3Dy.img", "tar", NULL, -1,
    "/my vm.ova", "member=disk 1&x=y.img",
    "tar:///my%20vm.ova?member=disk%201%26x%3Dy.img", NULL },
  { "memory:?size=1g", "memory", NULL, -1, "", "size=1g", "memory:?size=1g",
    NULL },
  { "Memory:disk?size=1M", "memory", NULL, -1, "disk", "size=1M",
    "memory:disk?size=1M", NULL },
  { "disk:1.img", "disk", NULL, -1, "1.img", NULL, "disk:1.img", NULL },
};

/* Junk, and what the message must say about it. */
static const struct
{
  const char *string;
  const char *text;
} bad[] = {
  { "", "empty" },
  { "nbd://host:abc/x", "abc" },
  { "nbd://host:99999/x", "99999" },
  { "nbd://[::1/x", "::1" },
  { "nbd://host/%00", "%00" },
  { "nbd://host/x#frag", "#frag" },
  { "nbd:", "nbd:unix:PATH" },
  { "nbd:unix:", "nbd:unix:PATH" },
  { "nbd:localhost", "nbd:HOST:PORT" },
  { "nbd:localhost:port", "nbd:HOST:PORT" },
  { "nbd:[::1:10809", "nbd:HOST:PORT" },
  /* Would normalize to nbd://loc/.host:10809/, another host. */
  { "nbd:loc/.host:10809", "nbd:HOST:PORT" },
  { "nbd:user@host:10809", "nbd:HOST:PORT" },
  /* GUri would read the export of the normalized URL as "/". */
  { "nbd:unix::e:exportname=.", "export name \".\"" },
  { "nbd:localhost:10809:exportname=..", "export name \"..\"" },
  /* Refused as URLs are, by GUri; the message stays UTF-8, the bytes
   * that are not written %XX. */
  { "nbd:unix:/run/\xd8.sock",
    "nbd:unix:/run/%D8.sock: invalid URL: not UTF-8" },
  { "nbd:\xecocalhost:10809", "nbd:%ECocalhost:10809: invalid URL: not UTF-8" },
  { "nbd:unix:/\xff\xfe:exportname=\xc3", "nbd:unix:/%FF%FE:exportname=%C3:" },
  { "memory:?%ff=1", "Non-UTF-8" },
  { "tar:///x.ova?member=A&member=B", "\"member\" is given more than once" },
  { "memory:?size=1&%zz=2", "memory:?size=1&%zz=2" },
};

static void
assert_param (ImgxferUrl *url, const char *param)
{
  g_auto (GStrv) pair = NULL;

  if (param == NULL)
    return;
  pair = g_strsplit (param, "=", 2);
  g_assert_cmpstr (imgxfer_url_get_param (url, pair[0]), ==, pair[1]);
}

static void
test_good (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      const Good *t = &good[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferUrl) url = imgxfer_url_parse (t->string, &error);
      g_autofree char *local = NULL;

      g_test_message ("%s", t->string);
      g_assert_no_error (error);
      g_assert_cmpstr (imgxfer_url_get_string (url), ==, t->string);
      g_assert_cmpstr (imgxfer_url_get_scheme (url), ==, t->scheme);
      g_assert_cmpstr (imgxfer_url_get_host (url), ==, t->host);
      g_assert_cmpint (imgxfer_url_get_port (url), ==, t->port);
      g_assert_cmpstr (imgxfer_url_get_path (url), ==, t->path);
      assert_param (url, t->param);
      g_assert_null (imgxfer_url_get_param (url, "nothing"));
      g_assert_cmpstr (imgxfer_url_to_string (url), ==, t->normalized);

      local = imgxfer_url_get_local_path (url, &error);
      g_assert_cmpstr (local, ==, t->local_path);
      if (t->local_path == NULL)
        g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_bad (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferUrl) url = imgxfer_url_parse (bad[i].string, &error);

      g_assert_null (url);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_test_message ("%s", error->message);
      if (g_utf8_validate (bad[i].string, -1, NULL))
        g_assert_nonnull (strstr (error->message, bad[i].string));
      g_assert_nonnull (strstr (error->message, bad[i].text));
      g_assert_null (strchr (error->message, '\n'));
    }
}

/* A misspelt parameter is refused, naming it and the known ones. */
static void
test_check_params (void)
{
  static const char *const known[] = { "member", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferUrl) good_url
      = imgxfer_url_parse ("tar:///x.ova?member=a", NULL);
  g_autoptr (ImgxferUrl) bad_url
      = imgxfer_url_parse ("tar:///x.ova?memebr=a", NULL);

  g_assert_true (imgxfer_url_check_params (good_url, known, &error));
  g_assert_no_error (error);
  g_assert_false (imgxfer_url_check_params (bad_url, known, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "\"memebr\""));
  g_assert_nonnull (strstr (error->message, "member"));
}

/* The registry and the drivers read schemes the same way: an upper-case
 * scheme finds the same driver, and junk is an error naming it. */
static void
test_registry (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (imgxfer_driver_lookup_url ("FILE:///tmp/x", NULL)
                 == imgxfer_driver_lookup_name ("file"));
  g_assert_true (imgxfer_driver_lookup_url ("/tmp/x", NULL)
                 == imgxfer_driver_lookup_name ("file"));
  g_assert_true (imgxfer_driver_lookup_url ("MEMORY:?size=1M", NULL)
                 == imgxfer_driver_lookup_name ("memory"));
  g_assert_true (imgxfer_driver_lookup_url ("nbd:unix:/s", NULL)
                 == imgxfer_driver_lookup_name ("nbd"));

  g_assert_true (imgxfer_driver_lookup_url ("nbd://h:x/", &error)
                 == G_TYPE_INVALID);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (imgxfer_driver_lookup_url ("gopher://h/x", &error)
                 == G_TYPE_INVALID);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL);
}

/* Every command opens a file: URL in upper case as it opens the path;
 * a file: URL naming another host is refused, not read here. */
static void
test_cli_file_urls (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "x.raw", NULL);
  g_autofree char *upper = g_strconcat ("FILE://", path, NULL);
  g_autofree char *remote = g_strconcat ("file://otherhost", path, NULL);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *upper_copy = g_strconcat ("File://", copy, NULL);
  const char *extents[] = { "extents", "--output=json", upper, NULL };
  const char *checksum[] = { "checksum", upper, NULL };
  const char *convert[] = { "convert", upper, upper_copy, NULL };
  const char *extents_remote[] = { "extents", remote, NULL };
  const char *convert_remote[] = { "convert", path, remote, NULL };
  const char *const *refused[] = { extents_remote, convert_remote };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  test_write_pattern (path, 1024 * 1024, 4096, 'x');
  g_assert_cmpint (test_run_cli (extents, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "\"zero\" : false"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_run_cli (checksum, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, upper));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_run_cli (convert, NULL, &err), ==, 0);
  test_assert_images_equal (path, "raw", copy, "raw", TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (test_run_cli (refused[i], NULL, &err), ==, 1);
      g_test_message ("%s", err);
      g_assert_nonnull (strstr (err, remote));
      g_assert_nonnull (strstr (err, "otherhost"));
      g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
    }
  test_tmpdir_free (dir);
}

/* Sizes in URLs and options, read by imgxfer_size_parse(). */
static void
test_sizes (void)
{
  static const struct
  {
    const char *text;
    guint64 size; /* 0: refused */
  } cases[] = {
    { "4096", 4096 },
    { "1b", 1 },
    { "64k", 64 << 10 },
    { "1M", 1 << 20 },
    { "1MiB", 1 << 20 },
    { "2gb", G_GUINT64_CONSTANT (2) << 30 },
    { "3t", G_GUINT64_CONSTANT (3) << 40 },
    { "1p", G_GUINT64_CONSTANT (1) << 50 },
    { "18446744073709551615", G_MAXUINT64 },
    { "18446744073709551616", 0 },
    { "16384p", 0 },
    { "", 0 },
    { "k", 0 },
    { "-1", 0 },
    { " 1", 0 },
    { "1x", 0 },
    { "1kk", 0 },
    { "1.5m", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 size = 0;
      gboolean ok = imgxfer_size_parse (cases[i].text, &size, &error);

      g_test_message ("\"%s\"", cases[i].text);
      if (cases[i].size == 0)
        {
          g_assert_false (ok);
          g_assert_error (error, IMGXFER_ERROR,
                          IMGXFER_ERROR_INVALID_ARGUMENT);
          g_assert_nonnull (strstr (error->message, cases[i].text));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (size, ==, cases[i].size);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/url/parse/good", test_good);
  g_test_add_func ("/url/parse/bad", test_bad);
  g_test_add_func ("/url/params/check", test_check_params);
  g_test_add_func ("/url/params/sizes", test_sizes);
  g_test_add_func ("/url/registry/schemes", test_registry);
  g_test_add_func ("/url/cli/file-urls", test_cli_file_urls);

  return g_test_run ();
}
