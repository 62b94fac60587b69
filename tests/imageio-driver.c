/* imageio-driver.c: the imageio driver against a plain web server
 *
 * tests/web-server.py is a small HTTPS server that is not imageio: ranged
 * GETs, PUTs with a Content-Range, no OPTIONS. Through it the driver must
 * read and write images, check certificates, report HTTP errors with the
 * server's message, fall back to the proxy URL only when the transfer URL
 * cannot be reached, and fail when the server goes away mid-copy.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)

typedef struct
{
  char *dir;  /* the test's folder */
  char *root; /* served by the web server */
  char *ca;
  char *other_ca;
  char *cert;
  char *key;
  GSubprocess *server;
  guint16 port;
} Fixture;

/* A CA, a certificate it signs for 127.0.0.1 and localhost, and another
 * CA that signed nothing here. */
static void
make_certificates (Fixture *f)
{
  g_autofree char *other_key = g_build_filename (f->dir, "other.key", NULL);

  f->ca = g_build_filename (f->dir, "ca.pem", NULL);
  f->other_ca = g_build_filename (f->dir, "other-ca.pem", NULL);
  f->cert = g_build_filename (f->dir, "server.pem", NULL);
  f->key = g_build_filename (f->dir, "server.key", NULL);
  test_make_certificates (f->dir, f->ca, f->cert, f->key);
  test_make_ca (f->other_ca, other_key, "/CN=another CA");
}

static void
start_server_with (Fixture *f, const char *option)
{
  f->server
      = test_web_server_start (f->root, f->cert, f->key, option, &f->port);
}

static void
start_server (Fixture *f)
{
  start_server_with (f, NULL);
}

static void
stop_server (Fixture *f)
{
  if (f->server == NULL)
    return;
  g_subprocess_force_exit (f->server);
  g_subprocess_wait (f->server, NULL, NULL);
  g_clear_object (&f->server);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
  f->root = g_build_filename (f->dir, "root", NULL);
  g_assert_cmpint (g_mkdir (f->root, 0755), ==, 0);
  make_certificates (f);
  start_server (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop_server (f);
  test_tmpdir_free (f->dir);
  g_free (f->root);
  g_free (f->ca);
  g_free (f->other_ca);
  g_free (f->cert);
  g_free (f->key);
}

static char *
url_of (Fixture *f, const char *host, const char *name)
{
  return g_strdup_printf ("https://%s:%u/%s", host, f->port, name);
}

static char *
served (Fixture *f, const char *name)
{
  return g_build_filename (f->root, name, NULL);
}

static char *
local (Fixture *f, const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

/* An image whose size is not a multiple of 4096, with data in its first
 * block, in the middle and in its last bytes, and holes between. */
static void
make_image (const char *path, guint64 size)
{
  test_create_sparse (path, size);
  test_write_pattern (path, 4096, 5000, 'a');
  test_write_pattern (path, size / 2, MiB, 'b');
  test_write_pattern (path, size - 50, 50, 'c');
}

static void
test_read (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *err = NULL;

  make_image (image, 10 * MiB + 100);
  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                                   url, copy, NULL },
                                 NULL, &err),
                   ==, 0);
  test_assert_images_equal (image, "raw", copy, "raw", FALSE);
}

/* Old imageio daemons answered OPTIONS with 405, old proxies with 204:
 * servers without features, read with ranged GETs and written with PUTs
 * all the same. */
static void
test_old_servers (Fixture *f, gconstpointer data)
{
  const char *const answers[] = { "--options=405", "--options=204" };
  const guint64 size = 3 * MiB + 512;
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *written = served (f, "written.img");
  g_autofree char *copy = local (f, "copy.raw");

  make_image (image, size);
  for (guint i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      g_autofree char *url = NULL;
      g_autofree char *written_url = NULL;

      stop_server (f);
      start_server_with (f, answers[i]);
      url = url_of (f, "127.0.0.1", "disk.img");
      written_url = url_of (f, "127.0.0.1", "written.img");
      test_create_sparse (written, size);
      test_write_pattern (written, 0, size, 'x');

      g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile",
                                                       f->ca, url, copy, NULL },
                                     NULL, NULL),
                       ==, 0);
      test_assert_images_equal (image, "raw", copy, "raw", FALSE);
      g_assert_cmpint (
          test_run_cli ((const char *[]){ "convert", "-n", "--cafile", f->ca,
                                          copy, written_url, NULL },
                        NULL, NULL),
          ==, 0);
      test_assert_images_equal (image, "raw", written, "raw", FALSE);
    }
}

/* A server that ends each connection after its answer, unannounced:
 * each request finds the last one's connection closed, and goes on a new
 * one. libsoup 3.2 could wait forever for a connection then (see
 * ensure_session() in imgxfer-imageio-http.c): one copy in two of these,
 * with a single connection and 1024 requests, hung. Plain HTTP, so that
 * the copies take a fraction of a second each. */
static void
test_server_closes_after_answer (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *url = NULL;

  stop_server (f);
  f->server = test_web_server_start (f->root, NULL, NULL,
                                     "--close-after-answer", &f->port);
  url = g_strdup_printf ("http://127.0.0.1:%u/disk.img", f->port);
  make_image (image, 4 * MiB);
  for (guint i = 0; i < 4; i++)
    {
      const char *const argv[] = { "timeout",
                                   "-s",
                                   "KILL",
                                   "60",
                                   g_getenv ("IMGXFER_CLI"),
                                   "convert",
                                   "--connections",
                                   "1",
                                   "--request-size",
                                   "4k",
                                   url,
                                   copy,
                                   NULL };

      g_assert_cmpint (test_run (argv, NULL, NULL), ==, 0);
      test_assert_images_equal (image, "raw", copy, "raw", FALSE);
    }
}

/* With no zero request to send, zero ranges are written as zeroes over
 * the old data. */
static void
test_write (Fixture *f, gconstpointer data)
{
  g_autofree char *source = local (f, "source.raw");
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "localhost", "disk.img");
  g_autofree char *err = NULL;
  guint64 size = 6 * MiB + 100;

  make_image (source, size);
  /* The disk as large as the source file is seen: rounded up to 512. */
  test_create_sparse (image, 6 * MiB + 512);
  test_write_pattern (image, 0, 6 * MiB + 512, 'x');

  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "-n", "--cafile",
                                                   f->ca, source, url, NULL },
                                 NULL, &err),
                   ==, 0);
  test_assert_images_equal (source, "raw", image, "raw", FALSE);
}

static void
test_empty (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "empty.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "empty.img");
  g_autofree char *copy = local (f, "copy.raw");

  test_create_sparse (image, 0);
  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                                   url, copy, NULL },
                                 NULL, NULL),
                   ==, 0);
  g_assert_cmpuint (test_file_size (copy), ==, 0);
}

/* The error says whose certificate and what is wrong with it. */
static void
assert_untrusted (Fixture *f, const char *ca)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *err = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  test_create_sparse (image, MiB);
  g_ptr_array_add (args, (char *)"convert");
  if (ca)
    {
      g_ptr_array_add (args, (char *)"--cafile");
      g_ptr_array_add (args, (char *)ca);
    }
  g_ptr_array_add (args, url);
  g_ptr_array_add (args, copy);
  g_ptr_array_add (args, NULL);

  g_assert_cmpint (test_run_cli ((const char *const *)args->pdata, NULL, &err),
                   ==, 1);
  g_assert_nonnull (strstr (err, url));
  g_assert_nonnull (
      strstr (err, "the TLS certificate of 127.0.0.1 is not trusted"));
  g_assert_nonnull (strstr (err, "unknown CA"));
  g_assert_cmpuint (strlen (err), ==, strcspn (err, "\n") + 1);
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
}

static void
test_wrong_ca (Fixture *f, gconstpointer data)
{
  assert_untrusted (f, f->other_ca);
}

static void
test_system_cas (Fixture *f, gconstpointer data)
{
  assert_untrusted (f, NULL);
}

static void
test_insecure (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *copy = local (f, "copy.raw");

  make_image (image, 3 * MiB);
  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--insecure", url,
                                                   copy, NULL },
                                 NULL, NULL),
                   ==, 0);
  test_assert_images_equal (image, "raw", copy, "raw", FALSE);
}

static void
test_http_error (Fixture *f, gconstpointer data)
{
  g_autofree char *url = url_of (f, "127.0.0.1", "missing.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *err = NULL;

  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                                   url, copy, NULL },
                                 NULL, &err),
                   ==, 1);
  g_assert_nonnull (strstr (err, url));
  g_assert_nonnull (strstr (err, "HTTP 404"));
  g_assert_nonnull (strstr (err, "No such image: /missing.img"));
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
}

/* A transfer URL on which nobody listens: the proxy URL is used, and one
 * line says so. */
static void
test_proxy_used (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *proxy = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *transfer = g_strdup_printf ("https://127.0.0.1:%u/disk.img",
                                               test_free_tcp_port ());
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *err = NULL;
  g_autofree char *expected
      = g_strdup_printf ("using the proxy URL %s\n", proxy);

  make_image (image, 2 * MiB);
  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                                   "--proxy-url", proxy,
                                                   transfer, copy, NULL },
                                 NULL, &err),
                   ==, 0);
  test_assert_images_equal (image, "raw", copy, "raw", FALSE);
  g_assert_nonnull (strstr (err, transfer));
  g_assert_true (g_str_has_suffix (err, expected));
  g_assert_cmpuint (strlen (err), ==, strcspn (err, "\n") + 1);
}

/* The server answered: an HTTP error is the answer, and the proxy is not
 * asked. */
static void
test_proxy_not_on_http_error (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *proxy = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *transfer = url_of (f, "127.0.0.1", "missing.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *err = NULL;

  make_image (image, 2 * MiB);
  g_assert_cmpint (test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                                   "--proxy-url", proxy,
                                                   transfer, copy, NULL },
                                 NULL, &err),
                   ==, 1);
  g_assert_nonnull (strstr (err, "HTTP 404"));
  g_assert_null (strstr (err, "proxy"));
}

/* Reads the JSON progress lines of a copy until one counts a byte that
 * moved: the source is open and its reads are under way. FALSE if the
 * copy ended before that. */
static gboolean
wait_for_bytes (GDataInputStream *progress)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line
          = g_data_input_stream_read_line_utf8 (progress, NULL, NULL, &error);
      g_autoptr (JsonNode) node = NULL;

      g_assert_no_error (error);
      if (line == NULL)
        return FALSE;
      node = test_parse_json (line);
      if (json_object_get_int_member (json_node_get_object (node),
                                      "transferred")
          > 0)
        return TRUE;
    }
}

/* The server dies part-way through a download: the copy fails, quickly,
 * and says where. The kill comes once some bytes moved, never while the
 * source is still being opened, whose error names no offset. */
static void
test_server_killed (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "big.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "big.img");
  g_autofree char *copy = local (f, "copy.raw");
  const char *cli = g_getenv ("IMGXFER_CLI");
  g_autoptr (GSubprocess) convert = NULL;
  g_autoptr (GDataInputStream) progress = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  gint64 start;

  /* No extents from a web server: all of it is read, which takes far
   * longer than the first progress line. */
  test_create_sparse (image, 4096ULL * MiB);
  convert = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
      cli, "convert", "--progress=json", "--cafile", f->ca, url, copy, NULL);
  g_assert_no_error (error);
  progress = g_data_input_stream_new (g_subprocess_get_stdout_pipe (convert));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (progress),
                                               FALSE);
  g_assert_true (wait_for_bytes (progress));
  g_subprocess_send_signal (f->server, SIGKILL);
  start = g_get_monotonic_time ();
  g_subprocess_communicate_utf8 (convert, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);

  g_assert_cmpint (g_subprocess_get_exit_status (convert), ==, 1);
  g_assert_nonnull (strstr (err, url));
  g_assert_nonnull (strstr (err, "at offset"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
}

typedef struct
{
  GArray *lengths; /* of guint64 */
  guint64 total;
  gboolean done; /* the result came */
  gboolean late; /* progress came after the result */
  gboolean ok;
  GError *error;
} Progress;

static void
on_progress (guint64 length, guint64 total, gpointer data)
{
  Progress *progress = data;

  g_array_append_val (progress->lengths, length);
  progress->total = total;
  progress->late |= progress->done;
}

static ImgxferTransferOptions *
transfer_options (Fixture *f, Progress *progress)
{
  ImgxferTransferOptions *options = imgxfer_transfer_options_new ();

  imgxfer_transfer_options_set_ca_file (options, f->ca);
  progress->lengths = g_array_new (FALSE, FALSE, sizeof (guint64));
  imgxfer_transfer_options_set_progress_func (options, on_progress, progress,
                                              NULL);
  return options;
}

/* The seed's test_progress, onto a server without zero requests: one
 * update per request, a zero run as one update of its whole length, and
 * the total with each. */
static void
test_upload_progress (Fixture *f, gconstpointer data)
{
  const guint64 size = 3 * 64 * 1024;
  g_autofree char *source = local (f, "source.raw");
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  Progress progress = { 0 };
  g_autoptr (ImgxferTransferOptions) options = transfer_options (f, &progress);
  g_autoptr (GError) error = NULL;
  const guint64 expected[] = { 4096, size / 2 - 4096, 4096, size / 2 - 4096 };

  test_create_sparse (source, size);
  test_write_pattern (source, 0, 4096, 'b');
  test_write_pattern (source, size / 2, 4096, 'b');
  test_create_sparse (image, size);
  test_write_pattern (image, 0, size, 'a');

  g_assert_true (imgxfer_upload (source, url, options, NULL, &error));
  g_assert_no_error (error);
  test_assert_images_equal (source, "raw", image, "raw", FALSE);
  g_assert_cmpuint (progress.total, ==, size);
  g_assert_cmpuint (progress.lengths->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpuint (g_array_index (progress.lengths, guint64, i), ==,
                      expected[i]);
  g_array_unref (progress.lengths);
}

/* An upload closes what it opened: an error found then fails it. */
static void
test_upload_close_error (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autoptr (ImgxferTransferOptions) options = imgxfer_transfer_options_new ();
  g_autoptr (GError) error = NULL;

  test_create_sparse (image, MiB);
  imgxfer_transfer_options_set_ca_file (options, f->ca);
  /* One connection: the upload's own close is the first. */
  g_assert_false (
      imgxfer_upload ("memory:?size=1m&max-connections=1&fail-close=1", url,
                      options, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "write-back failed"));
}

static void
on_download_done (GObject *object, GAsyncResult *result, gpointer data)
{
  Progress *progress = data;

  progress->ok = imgxfer_download_finish (result, &progress->error);
  progress->done = TRUE;
}

/* From the main loop: the progress comes on it, all of it before the
 * result. */
static void
test_download_async (Fixture *f, gconstpointer data)
{
  const guint64 size = 5 * MiB + 100;
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *copy = local (f, "copy.raw");
  Progress progress = { 0 };
  g_autoptr (ImgxferTransferOptions) options = transfer_options (f, &progress);
  guint64 sum = 0;

  make_image (image, size);
  imgxfer_transfer_options_set_format (options, "raw");
  imgxfer_download_async (url, copy, options, NULL, on_download_done,
                          &progress);
  while (!progress.done)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_assert_no_error (progress.error);
  g_assert_true (progress.ok);
  g_assert_false (progress.late);
  test_assert_images_equal (image, "raw", copy, "raw", FALSE);
  for (guint i = 0; i < progress.lengths->len; i++)
    sum += g_array_index (progress.lengths, guint64, i);
  g_assert_cmpuint (sum, ==, size);
  g_assert_cmpuint (progress.total, ==, size);
  g_array_unref (progress.lengths);
}

/* Refused before any byte moves: the image keeps its bytes. */
static void
test_upload_too_large (Fixture *f, gconstpointer data)
{
  g_autofree char *source = local (f, "source.raw");
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *contents = NULL;
  g_autoptr (ImgxferTransferOptions) options = imgxfer_transfer_options_new ();
  g_autoptr (GError) error = NULL;
  gsize length;

  make_image (source, 2 * MiB);
  test_create_sparse (image, MiB);
  test_write_pattern (image, 0, MiB, 'z');
  imgxfer_transfer_options_set_ca_file (options, f->ca);

  g_assert_false (imgxfer_upload (source, url, options, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "smaller"));
  g_assert_true (g_file_get_contents (image, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, MiB);
  for (gsize i = 0; i < length; i++)
    g_assert_cmpint (contents[i], ==, 'z');
}

/* One object per line on stdout; the last one, and only it, says that
 * all of it was transferred. */
static void
test_progress_json (Fixture *f, gconstpointer data)
{
  const guint64 size = 7 * MiB + 100;
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autofree char *copy = local (f, "copy.raw");
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  guint64 last = 0;
  guint n;

  make_image (image, size);
  g_assert_cmpint (
      test_run_cli ((const char *[]){ "convert", "--cafile", f->ca,
                                      "--progress=json", url, copy, NULL },
                    &out, NULL),
      ==, 0);
  lines = g_strsplit (g_strchomp (out), "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >=, 2);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (JsonNode) node = test_parse_json (lines[i]);
      JsonObject *object = json_node_get_object (node);
      guint64 transferred = json_object_get_int_member (object, "transferred");

      g_assert_cmpint (json_object_get_int_member (object, "size"), ==, size);
      g_assert_cmpfloat (json_object_get_double_member (object, "elapsed"), >=,
                         0);
      g_assert_cmpuint (transferred, >=, last);
      g_assert_true ((transferred == size) == (i == n - 1));
      last = transferred;
    }
}

/* Closing ends the connection then and there; nothing reaches the
 * server afterwards, not even a checksum asked of the driver. */
static void
test_close (Fixture *f, gconstpointer data)
{
  g_autofree char *image = served (f, "disk.img");
  g_autofree char *url = url_of (f, "127.0.0.1", "disk.img");
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *checksum = NULL;
  guint8 byte = 0;

  test_write_pattern (image, 0, MiB, 'r');
  imgxfer_open_options_set_ca_file (options, f->ca);
  backend = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), &byte, 1, 0,
                                       NULL, &error));
  g_assert_cmpint (byte, ==, 'r');

  g_assert_true (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
  checksum = imgxfer_checksum_compute (backend, NULL, 0, 1, NULL, &error);
  g_assert_null (checksum);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/imageio-driver/web-server/read", test_read);
  ADD ("/imageio-driver/web-server/closes-after-answer",
       test_server_closes_after_answer);
  ADD ("/imageio-driver/web-server/write", test_write);
  ADD ("/imageio-driver/web-server/empty", test_empty);
  ADD ("/imageio-driver/web-server/old-imageio-servers", test_old_servers);
  ADD ("/imageio-driver/tls/wrong-ca", test_wrong_ca);
  ADD ("/imageio-driver/tls/system-cas", test_system_cas);
  ADD ("/imageio-driver/tls/insecure", test_insecure);
  ADD ("/imageio-driver/errors/http-status", test_http_error);
  ADD ("/imageio-driver/errors/server-killed", test_server_killed);
  ADD ("/imageio-driver/close", test_close);
  ADD ("/imageio-driver/proxy/used-when-unreachable", test_proxy_used);
  ADD ("/imageio-driver/proxy/not-on-http-error", test_proxy_not_on_http_error);

  ADD ("/imageio-driver/transfer/upload-progress", test_upload_progress);
  ADD ("/imageio-driver/transfer/upload-close-error", test_upload_close_error);
  ADD ("/imageio-driver/transfer/download-async", test_download_async);
  ADD ("/imageio-driver/transfer/upload-too-large", test_upload_too_large);

  ADD ("/imageio-driver/cli/progress-json", test_progress_json);

  return g_test_run ();
}
