/* nbd-driver.c: the nbd driver against real qemu-nbd and nbdkit servers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "drivers/nbd/imgxfer-nbd-backend.h"
#include "imgxfer-copy-private.h"
#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER (64 * KiB)

typedef struct
{
  char *dir;
  char *socket;
  TestServer *server;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  fixture->dir = test_tmpdir_new ();
  fixture->socket = g_build_filename (fixture->dir, "nbd.sock", NULL);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_clear_pointer (&fixture->server, test_server_stop);
  g_free (fixture->socket);
  test_tmpdir_free (fixture->dir);
}

/* nbdkit's memory plugin: sparse, multi-conn, reports holes as
 * NBD_STATE_HOLE | NBD_STATE_ZERO. @extra: more nbdkit arguments. */
static void
start_nbdkit (Fixture *fixture, const char *const *extra)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;

  g_strv_builder_add_many (builder, "nbdkit", "--foreground",
                           "--exit-with-parent", "--unix", fixture->socket,
                           NULL);
  if (extra != NULL)
    g_strv_builder_addv (builder, (const char **)extra);
  else
    g_strv_builder_add_many (builder, "memory", "10M", NULL);
  argv = g_strv_builder_end (builder);
  fixture->server
      = test_server_start ((const char *const *)argv, fixture->socket);
}

static ImgxferBackend *
open_nbd (const char *url, gboolean writable, const char *ca_file,
          GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_writable (options, writable);
  imgxfer_open_options_set_ca_file (options, ca_file);
  return imgxfer_open (url, options, NULL, error);
}

/* imageio's test_zero_extents_raw: written through a qemu-nbd raw export
 * the way ovirt-imageio's client does, then asked for extents. A hole in a
 * raw image is zero, never a hole. */
static void
test_extents_raw (Fixture *fixture, gconstpointer data)
{
  g_autofree char *image = g_build_filename (fixture->dir, "image.raw", NULL);
  const char *argv[] = { "qemu-nbd",        "--persistent", "--format=raw",
                         "--discard=unmap", "--shared=4",   "--socket",
                         fixture->socket,   image,          NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  const ImgxferExtent expected[] = {
    { 0 * CLUSTER, CLUSTER, IMGXFER_EXTENT_DATA },
    { 1 * CLUSTER, CLUSTER, IMGXFER_EXTENT_ZERO },
    { 2 * CLUSTER, CLUSTER, IMGXFER_EXTENT_DATA },
    { 3 * CLUSTER, 10 * MiB - 3 * CLUSTER, IMGXFER_EXTENT_ZERO },
  };

  test_create_sparse (image, 10 * MiB);
  fixture->server = test_server_start (argv, fixture->socket);

  backend
      = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_no_error (error);
  test_backend_fill (backend, 0 * CLUSTER, CLUSTER, 'A');
  imgxfer_destination_zero (IMGXFER_DESTINATION (backend), 1 * CLUSTER, CLUSTER,
                            IMGXFER_ZERO_MAY_TRIM, NULL, &error);
  g_assert_no_error (error);
  test_backend_fill (backend, 2 * CLUSTER, CLUSTER, 'B');
  imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&backend);

  backend
      = open_nbd (test_server_get_uri (fixture->server), FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_backend_get_caps (backend)
                 & IMGXFER_BACKEND_CAN_EXTENTS);
  extents = test_all_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO);
  test_assert_extents (extents, expected, G_N_ELEMENTS (expected));
}

/* nbdkit reports its unallocated memory as NBD_STATE_HOLE: that is no
 * reason to call it a hole, only zero. */
static void
test_extents_state_hole_is_zero (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  const ImgxferExtent expected[] = {
    { 0, 1 * MiB, IMGXFER_EXTENT_ZERO },
    { 1 * MiB, 1 * MiB, IMGXFER_EXTENT_DATA },
    { 2 * MiB, 8 * MiB, IMGXFER_EXTENT_ZERO },
  };

  start_nbdkit (fixture, NULL);
  backend
      = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_no_error (error);
  test_backend_fill (backend, 1 * MiB, 1 * MiB, 'x');

  extents = test_all_extents (backend, IMGXFER_EXTENT_CONTEXT_ZERO);
  test_assert_extents (extents, expected, G_N_ELEMENTS (expected));
}

static void
test_read_write_zero (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;
  ImgxferDestination *destination;
  guint32 minimum, preferred, maximum;

  start_nbdkit (fixture, NULL);
  backend
      = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_no_error (error);
  destination = IMGXFER_DESTINATION (backend);

  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 10 * MiB);
  g_assert_cmpuint (imgxfer_backend_get_caps (backend)
                        & (IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO
                           | IMGXFER_BACKEND_CAN_FLUSH),
                    ==,
                    IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO
                        | IMGXFER_BACKEND_CAN_FLUSH);
  imgxfer_backend_get_block_sizes (backend, &minimum, &preferred, &maximum);
  g_assert_cmpuint (maximum, <=, 32 * MiB);
  /* nbdkit's memory plugin allows multi-conn. */
  g_assert_cmpuint (imgxfer_backend_get_max_connections (backend), >, 1);

  test_backend_fill (backend, 0, 3 * MiB, 'a');
  imgxfer_destination_zero (destination, 1 * MiB, 512 * KiB, IMGXFER_ZERO_NONE,
                            NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_zero (destination, 2 * MiB, 512 * KiB,
                            IMGXFER_ZERO_MAY_TRIM, NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_flush (destination, NULL, &error);
  g_assert_no_error (error);

  /* A clone is another connection to the same export. */
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  test_backend_assert_bytes (clone, 0, 1 * MiB, 'a');
  test_backend_assert_bytes (clone, 1 * MiB, 512 * KiB, 0);
  test_backend_assert_bytes (clone, 1 * MiB + 512 * KiB, 512 * KiB, 'a');
  test_backend_assert_bytes (clone, 2 * MiB, 512 * KiB, 0);
  test_backend_assert_bytes (clone, 2 * MiB + 512 * KiB, 512 * KiB, 'a');
}

/* The imageio ticket forms of a unix socket URL, and the URI form in
 * either case. */
static void
test_url_forms (Fixture *fixture, gconstpointer data)
{
  g_autofree char *legacy = g_strconcat ("nbd:unix:", fixture->socket, NULL);
  g_autofree char *legacy_export
      = g_strconcat ("nbd:unix:", fixture->socket, ":exportname=disk", NULL);
  g_autofree char *uri_export = NULL;
  g_autofree char *upper_case = NULL;
  g_autofree char *escaped = NULL;
  const char *urls[4];

  start_nbdkit (fixture, NULL);
  escaped = g_uri_escape_string (fixture->socket, "/", FALSE);
  uri_export = g_strconcat ("nbd+unix:///disk?socket=", escaped, NULL);
  /* Schemes are case-insensitive; libnbd's are lower case. */
  upper_case = g_strconcat ("NBD+Unix:///disk?socket=", escaped, NULL);
  urls[0] = legacy;
  urls[1] = legacy_export;
  urls[2] = uri_export;
  urls[3] = upper_case;

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ImgxferBackend) backend
          = open_nbd (urls[i], FALSE, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (G_OBJECT_TYPE_NAME (backend), ==, "ImgxferNbdBackend");
      g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 10 * MiB);
      g_assert_false (imgxfer_backend_get_caps (backend)
                      & IMGXFER_BACKEND_CAN_WRITE);
    }
}

/* Every read fails on the server: the error names the URL and offset. */
static void
test_read_error (Fixture *fixture, gconstpointer data)
{
  const char *const extra[]
      = { "--filter=error",        "memory", "10M", "error-pread=EIO",
          "error-pread-rate=100%", NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected_offset = NULL;
  char buffer[4096];

  start_nbdkit (fixture, extra);
  backend
      = open_nbd (test_server_get_uri (fixture->server), FALSE, NULL, &error);
  g_assert_no_error (error);

  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        sizeof buffer, 65536, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (
      strstr (error->message, test_server_get_uri (fixture->server)));
  g_assert_nonnull (strstr (error->message, "read at offset 65536"));
  g_assert_nonnull (strstr (error->message, "Input/output error"));
}

static void
test_connect_error (Fixture *fixture, gconstpointer data)
{
  g_autofree char *url = g_strconcat ("nbd:unix:", fixture->socket, NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  /* Nobody listens on the socket. */
  backend = open_nbd (url, FALSE, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, url));
}

static void
test_read_only_server (Fixture *fixture, gconstpointer data)
{
  const char *const extra[] = { "--readonly", "memory", "1M", NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  start_nbdkit (fixture, extra);
  backend
      = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
}

static void
test_missing_bitmap (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  start_nbdkit (fixture, NULL);
  imgxfer_open_options_set_bitmap (options, "b0");
  backend = imgxfer_open (test_server_get_uri (fixture->server), options, NULL,
                          &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "\"b0\""));
}

/* A self-signed certificate for "localhost" in @dir, named as nbdkit
 * wants: it is its own CA certificate too. */
static void
make_certificate (const char *dir)
{
  g_autofree char *key = g_build_filename (dir, "server-key.pem", NULL);
  g_autofree char *cert = g_build_filename (dir, "server-cert.pem", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca-cert.pem", NULL);
  const char *openssl[]
      = { "openssl", "req",     "-x509", "-newkey",       "rsa:2048",
          "-nodes",  "-keyout", key,     "-out",          cert,
          "-days",   "2",       "-subj", "/CN=localhost", NULL };
  g_autofree char *pem = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpint (test_run (openssl, NULL, NULL), ==, 0);
  g_file_get_contents (cert, &pem, NULL, &error);
  g_assert_no_error (error);
  g_file_set_contents (ca, pem, -1, &error);
  g_assert_no_error (error);
}

/* nbds:// speaks TLS to a server that requires it; plain nbd:// is
 * refused with a message naming the URL. */
static void
test_tls (Fixture *fixture, gconstpointer data)
{
  g_autofree char *certificates
      = g_strconcat ("--tls-certificates=", fixture->dir, NULL);
  const char *const extra[]
      = { "--tls=require", certificates, "memory", "1M", NULL };
  g_autofree char *escaped = g_uri_escape_string (fixture->socket, "/", FALSE);
  g_autofree char *tls_url
      = g_strconcat ("nbds+unix:///?socket=", escaped, NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  make_certificate (fixture->dir);
  start_nbdkit (fixture, extra);

  backend = open_nbd (tls_url, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 1 * MiB);
  g_clear_object (&backend);

  backend
      = open_nbd (test_server_get_uri (fixture->server), FALSE, NULL, &error);
  g_assert_null (backend);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (
      strstr (error->message, test_server_get_uri (fixture->server)));
}

/* The CA file option decides whom to trust (over TCP, where libnbd checks
 * the host name and the chain). */
static void
test_tls_ca_file (Fixture *fixture, gconstpointer data)
{
  g_autofree char *server_dir = g_build_filename (fixture->dir, "srv", NULL);
  g_autofree char *other_dir = g_build_filename (fixture->dir, "other", NULL);
  g_autofree char *server_ca
      = g_build_filename (server_dir, "ca-cert.pem", NULL);
  g_autofree char *other_ca = g_build_filename (other_dir, "ca-cert.pem", NULL);
  g_autofree char *certificates
      = g_strconcat ("--tls-certificates=", server_dir, NULL);
  g_autofree char *port = g_strdup_printf ("%u", test_free_tcp_port ());
  const char *argv[] = { "nbdkit",        "--foreground", "--exit-with-parent",
                         "--tls=require", certificates,   "--ipaddr",
                         "127.0.0.1",     "--port",       port,
                         "memory",        "1M",           NULL };
  g_autofree char *plain_url = g_strdup_printf ("nbd://127.0.0.1:%s/", port);
  g_autofree char *url = g_strdup_printf ("nbds://localhost:%s/", port);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  make_certificate (server_dir);
  make_certificate (other_dir);
  fixture->server = test_server_start_uri (argv, plain_url);

  backend = open_nbd (url, FALSE, server_ca, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 1 * MiB);
  g_clear_object (&backend);

  backend = open_nbd (url, FALSE, other_ca, &error);
  g_assert_null (backend);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, url));
  g_assert_nonnull (strstr (error->message, "certificate"));
}

static gpointer
cancel_later (gpointer cancellable)
{
  g_usleep (200 * 1000);
  g_cancellable_cancel (cancellable);
  return NULL;
}

/* A server that takes the connection and never answers (qemu-nbd beyond
 * its --shared limit does that) must not hang the open: it can be
 * cancelled. */
static void
test_silent_server (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSocketAddress) address
      = g_unix_socket_address_new (fixture->socket);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = g_strconcat ("nbd:unix:", fixture->socket, NULL);
  GThread *canceller;
  gint64 start = g_get_monotonic_time ();

  /* Listening without accepting: the kernel completes the connection. */
  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error);
  g_assert_no_error (error);

  canceller = g_thread_new ("cancel", cancel_later, cancellable);
  backend = imgxfer_open (url, NULL, cancellable, &error);
  g_thread_join (canceller);

  g_assert_null (backend);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* A request the server sits on can be cancelled; the connection is
 * given up, since the reply could still come. */
static void
test_cancel_request (Fixture *fixture, gconstpointer data)
{
  const char *const extra[]
      = { "--filter=delay", "memory", "1M", "delay-read=60", NULL };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *buffer = g_malloc (4096);
  gint64 start;
  GThread *canceller;

  start_nbdkit (fixture, extra);
  backend
      = open_nbd (test_server_get_uri (fixture->server), FALSE, NULL, &error);
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  canceller = g_thread_new ("cancel", cancel_later, cancellable);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 4096,
                                        0, cancellable, &error));
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* The buffer may go: nothing reads into it any more. */
  g_clear_pointer (&buffer, g_free);
  buffer = g_malloc (4096);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 4096,
                                        0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&backend);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* The last message the library logged at G_LOG_LEVEL_MESSAGE: structured
 * logging bypasses g_test_expect_message(). */
static GMutex message_lock;
static char *last_message;

static GLogWriterOutput
record_message (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                gpointer user_data)
{
  for (gsize i = 0; (level & G_LOG_LEVEL_MESSAGE) && i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
      {
        g_mutex_lock (&message_lock);
        g_free (last_message);
        last_message = g_strdup (fields[i].value);
        g_mutex_unlock (&message_lock);
      }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* Expects the last message logged to match @pattern, and forgets it. */
static void
assert_last_note (const char *pattern)
{
  g_assert_nonnull (last_message);
  if (!g_pattern_match_simple (pattern, last_message))
    g_error ("expected the note \"%s\", got \"%s\"", pattern,
             last_message);
  g_clear_pointer (&last_message, g_free);
}

/* Copies @source to @destination asking for 4 connections, in 1 MiB
 * units so that an 8 MiB image keeps them busy, and expects the copy to
 * note that it got only @expected. Returns how long the copy took. */
static gint64
copy_with_fewer_connections (ImgxferBackend *source,
                             ImgxferBackend *destination, guint expected)
{
  g_autoptr (ImgxferCopy) copy = imgxfer_copy_new (source, destination);
  g_autoptr (GError) error = NULL;
  g_autofree char *note = g_strdup_printf (
      "Copying with %u connections instead of 4: *", expected);
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  imgxfer_copy_set_connections (copy, 4);
  _imgxfer_copy_set_unit_size (copy, 1 * MiB);
  g_clear_pointer (&last_message, g_free);
  imgxfer_copy_run (copy, NULL, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_no_error (error);

  assert_last_note (note);
  return elapsed;
}

/* qemu-nbd --shared=2 serving @image: it allows multi-conn but leaves a
 * third client in its listen backlog. */
static void
start_qemu_nbd_two_clients (Fixture *fixture, const char *image)
{
  const char *argv[]
      = { "qemu-nbd", "--persistent",  "--format=raw", "--shared=2",
          "--socket", fixture->socket, image,          NULL };

  fixture->server = test_server_start (argv, fixture->socket);
}

/* qemu-nbd --shared=2 allows multi-conn but leaves a third client in its
 * listen backlog without a word: a copy asking for 4 connections to it,
 * either way, goes on with 2 and does not wait out the 30 s handshake
 * timeout for the others. */
static void
test_copy_server_serves_fewer (Fixture *fixture, gconstpointer data)
{
  g_autofree char *source_path
      = g_build_filename (fixture->dir, "source.raw", NULL);
  g_autofree char *export_path
      = g_build_filename (fixture->dir, "export.raw", NULL);
  g_autofree char *copy_path
      = g_build_filename (fixture->dir, "copy.raw", NULL);
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) export = NULL;
  g_autoptr (ImgxferBackend) copy = NULL;
  g_autoptr (GError) error = NULL;

  test_write_pattern (source_path, 0, 1 * MiB, 'a');
  test_write_pattern (source_path, 3 * MiB, 1536 * KiB, 'b');
  test_write_pattern (source_path, 7 * MiB + 512 * KiB, 512 * KiB, 'c');
  /* Data where the source has zeroes, which the copy must overwrite. */
  test_create_sparse (export_path, 8 * MiB);
  test_write_pattern (export_path, 1 * MiB, 2 * MiB, 'x');
  test_create_sparse (copy_path, 8 * MiB);
  test_write_pattern (copy_path, 5 * MiB, 1 * MiB, 'y');
  start_qemu_nbd_two_clients (fixture, export_path);

  source = test_open (source_path, FALSE);
  export = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_max_connections (export), >=, 4);
  g_assert_cmpint (copy_with_fewer_connections (source, export, 2), <,
                   20 * G_USEC_PER_SEC);
  g_clear_object (&export);

  export
      = open_nbd (test_server_get_uri (fixture->server), FALSE, NULL, &error);
  g_assert_no_error (error);
  copy = test_open (copy_path, TRUE);
  g_assert_cmpint (copy_with_fewer_connections (export, copy, 2), <,
                   20 * G_USEC_PER_SEC);
  g_clear_object (&export);
  g_clear_object (&copy);

  g_clear_pointer (&fixture->server, test_server_stop);
  test_assert_images_equal (source_path, "raw", export_path, "raw", FALSE);
  test_assert_images_equal (source_path, "raw", copy_path, "raw", FALSE);
}

/* Cancelling the copy while a clone waits for its greeting stops the
 * copy: that failed clone is no reason to go on with fewer. */
static void
test_copy_cancel_while_connecting (Fixture *fixture, gconstpointer data)
{
  g_autofree char *export_path
      = g_build_filename (fixture->dir, "export.raw", NULL);
  g_autoptr (ImgxferBackend) source = test_open ("memory:?size=8M", FALSE);
  g_autoptr (ImgxferBackend) export = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  GThread *canceller;
  gint64 start;

  test_create_sparse (export_path, 8 * MiB);
  start_qemu_nbd_two_clients (fixture, export_path);
  export = open_nbd (test_server_get_uri (fixture->server), TRUE, NULL, &error);
  g_assert_no_error (error);
  copy = imgxfer_copy_new (source, export);
  imgxfer_copy_set_connections (copy, 4);
  _imgxfer_copy_set_unit_size (copy, 1 * MiB);

  g_clear_pointer (&last_message, g_free);
  start = g_get_monotonic_time ();
  canceller = g_thread_new ("cancel", cancel_later, cancellable);
  g_assert_false (imgxfer_copy_run (copy, cancellable, &error));
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Less than a clone's wait for its greeting. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
  /* No note about copying with fewer connections. */
  g_assert_null (last_message);
}

/* nbdkit serving @size bytes of memory to at most 2 clients at a time
 * (its limit filter hangs up on the others), opened writable with 'd' in
 * [1 MiB, 3 MiB) and 'e' in the MiB at @e_offset. */
static ImgxferBackend *
open_two_client_nbdkit (Fixture *fixture, const char *size, guint64 e_offset)
{
  const char *const extra[]
      = { "--filter=limit", "memory", size, "limit=2", NULL };
  ImgxferBackend *backend;

  start_nbdkit (fixture, extra);
  backend = test_open (test_server_get_uri (fixture->server), TRUE);
  test_backend_fill (backend, 1 * MiB, 2 * MiB, 'd');
  test_backend_fill (backend, e_offset, 1 * MiB, 'e');
  return backend;
}

/* nbdkit's limit filter hangs up on clients beyond its limit: the copy
 * goes on with the connections it has. */
static void
test_copy_server_refuses_clients (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) source
      = open_two_client_nbdkit (fixture, "8M", 6 * MiB);
  g_autoptr (ImgxferBackend) destination = NULL;

  destination = test_open ("memory:?size=8M", TRUE);
  test_backend_fill (destination, 4 * MiB, 1 * MiB, 'z');

  g_assert_cmpint (copy_with_fewer_connections (source, destination, 2), <,
                   20 * G_USEC_PER_SEC);
  test_backend_assert_bytes (destination, 0, 1 * MiB, 0);
  test_backend_assert_bytes (destination, 1 * MiB, 2 * MiB, 'd');
  test_backend_assert_bytes (destination, 3 * MiB, 3 * MiB, 0);
  test_backend_assert_bytes (destination, 6 * MiB, 1 * MiB, 'e');
  test_backend_assert_bytes (destination, 7 * MiB, 1 * MiB, 0);
}

/* A checksum read with 4 threads (the image has 4 units of work) from a
 * server that takes 2 clients uses the 2 connections it gets, and sums
 * the same bytes as one connection. */
static void
test_checksum_server_refuses_clients (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ImgxferBackend) source
      = open_two_client_nbdkit (fixture, "200M", 150 * MiB);
  g_autoptr (GError) error = NULL;
  g_autofree char *with_one = NULL;
  g_autofree char *with_four = NULL;

  with_one = imgxfer_checksum_compute (source, NULL, 1 * MiB, 1, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&last_message, g_free);
  with_four
      = imgxfer_checksum_compute (source, NULL, 1 * MiB, 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (with_four, ==, with_one);
  assert_last_note ("Reading with 2 connections instead of 4: *");
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (record_message, NULL, NULL);

#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/nbd-driver/extents/raw-qemu-nbd", test_extents_raw);
  ADD ("/nbd-driver/extents/state-hole-is-zero",
       test_extents_state_hole_is_zero);
  ADD ("/nbd-driver/io/read-write-zero", test_read_write_zero);
  ADD ("/nbd-driver/url/forms", test_url_forms);
  ADD ("/nbd-driver/url/tls", test_tls);
  ADD ("/nbd-driver/url/tls-ca-file", test_tls_ca_file);
  ADD ("/nbd-driver/errors/read", test_read_error);
  ADD ("/nbd-driver/errors/connect", test_connect_error);
  ADD ("/nbd-driver/errors/silent-server", test_silent_server);
  ADD ("/nbd-driver/errors/cancel-request", test_cancel_request);
  ADD ("/nbd-driver/errors/read-only-server", test_read_only_server);
  ADD ("/nbd-driver/errors/missing-bitmap", test_missing_bitmap);
  ADD ("/nbd-driver/copy/server-serves-fewer-clients",
       test_copy_server_serves_fewer);
  ADD ("/nbd-driver/copy/cancel-while-connecting",
       test_copy_cancel_while_connecting);
  ADD ("/nbd-driver/copy/server-refuses-clients",
       test_copy_server_refuses_clients);
  ADD ("/nbd-driver/checksum/server-refuses-clients",
       test_checksum_server_refuses_clients);

  status = g_test_run ();

  /* Every server was stopped by its test. */
  g_assert_cmpuint (test_count_children ("nbdkit"), ==, 0);
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
  return status;
}
