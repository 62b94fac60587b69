/* retry.c: requests sent again after failures that may pass
 *
 * `imgxfer serve` killed under an upload and under a download, then
 * started again in a new process on the same port with the same ticket:
 * with retries the copy ends identical to its source, without
 * (--retries=0) it fails. An NBD server (nbdkit's error filter, its eval
 * plugin for flush) failing some requests: the copy sends them again,
 * says so, and ends identical; failing every one, it fails after the
 * retries with the server's error. A deleted ticket's 403 is not retried.
 * The daemon's NBD server restarted under writes the daemon acknowledged:
 * every connection whose writes went through a backend that lost them
 * hears of it, the one that lent the backend too.
 * OPTIONS at open and the server's checksum are sent again as the other
 * requests are (a relay in front of the daemon cuts a connection), so is
 * the size query at open of a web server that is not imageio
 * (tests/web-server.py cuts it), and a transfer URL that cannot be
 * reached goes to the proxy URL at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>

#include "test-daemon.h"
#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define TICKET "t1"

/* A loopback TCP relay to the daemon's local socket (plain HTTP) that
 * fails its first connection as a network or a server going away would,
 * and passes the later ones on. */
typedef enum
{
  RELAY_PASS,
  RELAY_NO_ANSWER,  /* closed once the request came in */
  RELAY_CUT_ANSWER, /* half of the answer's first bytes, then closed */
} RelayMode;

typedef struct
{
  GSocket *listener;
  guint16 port;
  const char *upstream; /* the daemon's local socket */
  RelayMode first;
  guint connections; /* accepted so far */
  gint stopping;
  GThread *thread;
  GPtrArray *workers; /* a thread per connection */
} Relay;

typedef struct
{
  char *dir;
  char *ca;
  char *cert;
  char *key;
  TestDaemon daemon; /* started by the imageio tests */
  char *url;         /* https://127.0.0.1:PORT/images/TICKET */
  Relay relay;
  GSubprocess *web_server; /* serves dir */
} Fixture;

/* What the library logged in this process: retry lines, the last one,
 * and lines saying that the proxy URL is used. */
static guint retries_logged;
static char *last_retry;
static guint proxy_lines;
/* Called once, at the next retry line, from the thread that retries,
 * before its pause. */
static void (*retry_hook) (gpointer data);
static gpointer retry_hook_data;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
  f->ca = g_build_filename (f->dir, "ca.pem", NULL);
  f->cert = g_build_filename (f->dir, "server.pem", NULL);
  f->key = g_build_filename (f->dir, "server.key", NULL);
  retries_logged = proxy_lines = 0;
  g_clear_pointer (&last_retry, g_free);
}

static void relay_stop (Relay *relay);

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  relay_stop (&f->relay);
  if (f->web_server != NULL)
    {
      g_subprocess_force_exit (f->web_server);
      g_subprocess_wait (f->web_server, NULL, NULL);
      g_clear_object (&f->web_server);
    }
  if (f->daemon.dir != NULL)
    test_daemon_stop (&f->daemon);
  test_tmpdir_free (f->dir);
  g_free (f->ca);
  g_free (f->cert);
  g_free (f->key);
  g_free (f->url);
}

static void
daemon_start (Fixture *f)
{
  test_make_certificates (f->dir, f->ca, f->cert, f->key);
  test_daemon_start (&f->daemon, f->dir, f->ca, f->cert, f->key, "");
  f->url = g_strconcat (f->daemon.url, "/images/" TICKET, NULL);
}

/* A ticket on @url, an image of @format and @image_size. */
static void
add_ticket (Fixture *f, const char *url, const char *format, guint64 image_size,
            const char *ops)
{
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, image_size);
  const char *const args[] = { "ticket",
                               "add",
                               "--control-socket",
                               f->daemon.control,
                               "--id",
                               TICKET,
                               "--url",
                               url,
                               "--size",
                               size,
                               "--ops",
                               ops,
                               "--format",
                               format,
                               NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (test_run_cli (args, NULL, &err), ==, 0);
}

/* nbdkit with @params (NULL-terminated) on the fixture's folder's socket. */
static TestServer *
start_nbdkit (Fixture *f, const char *const *params)
{
  g_autofree char *socket = g_build_filename (f->dir, "nbd.sock", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *const head[] = { "nbdkit", "--foreground", "--exit-with-parent",
                               "--unix", socket,         NULL };

  for (guint i = 0; head[i]; i++)
    g_ptr_array_add (argv, (char *)head[i]);
  for (; *params; params++)
    g_ptr_array_add (argv, (char *)*params);
  g_ptr_array_add (argv, NULL);
  return test_server_start ((const char *const *)argv->pdata, socket);
}

/* Reads the copy's stderr until its progress is past 0. */
static void
wait_for_some_progress (GSubprocess *copy)
{
  GInputStream *err = g_subprocess_get_stderr_pipe (copy);
  g_autoptr (GString) seen = g_string_new (NULL);
  char c;

  while (!g_str_has_suffix (seen->str, "/100%)")
         || g_str_has_suffix (seen->str, "(0.00/100%)"))
    {
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (g_input_stream_read (err, &c, 1, NULL, &error), ==, 1);
      g_string_append_c (seen, c);
    }
}

/* Reads the copy's stderr until a line starts with @prefix. */
static void
wait_for_line (GSubprocess *copy, const char *prefix)
{
  GInputStream *err = g_subprocess_get_stderr_pipe (copy);
  g_autoptr (GString) line = g_string_new (NULL);
  char c;

  while (!g_str_has_prefix (line->str, prefix))
    {
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (g_input_stream_read (err, &c, 1, NULL, &error), ==, 1);
      if (c == '\n' || c == '\r')
        g_string_truncate (line, 0);
      else
        g_string_append_c (line, c);
    }
}

/* The daemon is killed under the copy, which finds it gone and says it
 * retries; started again, the daemon has the same ticket. The copy is
 * stopped meanwhile, so that no request finds the new daemon before the
 * ticket is there (its 403 would rightly end the copy). Without retries
 * the copy fails as soon as it finds the daemon gone. */
static void
restart_daemon_under (Fixture *f, GSubprocess *copy, gboolean retries,
                      const char *url, const char *format, guint64 size,
                      const char *ops)
{
  GPid copy_pid = atoi (g_subprocess_get_identifier (copy));

  wait_for_some_progress (copy);
  g_assert_cmpint (kill (copy_pid, SIGSTOP), ==, 0);
  test_daemon_crash (&f->daemon);
  g_assert_cmpint (kill (copy_pid, SIGCONT), ==, 0);
  if (!retries)
    return;
  wait_for_line (copy, "imgxfer: retrying ");
  g_assert_cmpint (kill (copy_pid, SIGSTOP), ==, 0);
  test_daemon_restart (&f->daemon, f->ca, f->cert, f->key);
  add_ticket (f, url, format, size, ops);
  g_assert_cmpint (kill (copy_pid, SIGCONT), ==, 0);
}

/* The daemon is killed and started again, with the same ticket, while
 * the copy is stopped: the copy finds a new daemon at its next request. */
static void
restart_daemon_between (Fixture *f, GSubprocess *copy, const char *url,
                        const char *format, guint64 size, const char *ops)
{
  GPid copy_pid = atoi (g_subprocess_get_identifier (copy));

  wait_for_some_progress (copy);
  g_assert_cmpint (kill (copy_pid, SIGSTOP), ==, 0);
  test_daemon_crash (&f->daemon);
  test_daemon_restart (&f->daemon, f->ca, f->cert, f->key);
  add_ticket (f, url, format, size, ops);
  g_assert_cmpint (kill (copy_pid, SIGCONT), ==, 0);
}

static GSubprocess *
spawn_copy (const char *retries, const char *src, const char *dst,
            const char *ca)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *const args[]
      = { "convert",           "-p", "-n", "--cafile", ca, retries,
          "--request-size=1m", src,  dst,  NULL };

  return test_spawn_cli (launcher, args);
}

#define IMAGE_SIZE (80 * MiB)

/* 64 MiB of bytes that differ from MiB to MiB, and a hole. */
static void
make_source (const char *path)
{
  test_create_sparse (path, IMAGE_SIZE);
  for (guint i = 0; i < 64; i++)
    test_write_pattern (path, (guint64)i * MiB, MiB, 'A' + i);
}

typedef struct
{
  gboolean upload;    /* else a download */
  const char *format; /* of the image uploaded to */
  const char *retries;
  int status; /* what the copy ends with */
  /* The daemon restarted while the copy was stopped: its next request
   * finds its kept-alive connection closed, and libsoup sends it again
   * on a new one by itself. */
  gboolean between_requests;
} Restart;

/* The source is read through nbdkit, each read slowed down, so that the
 * daemon is killed part-way: the copy's source for an upload, the
 * ticket's image for a download. An upload into a qcow2 image goes
 * through the daemon's qemu-nbd, which dies with the daemon and takes
 * with it the cluster mappings it had not written yet: a write it
 * acknowledged is lost unless it is sent again, as the copy does with
 * each write not flushed yet. */
static void
test_daemon_restarted (Fixture *f, gconstpointer data)
{
  const Restart *restart = data;
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *dst_name = g_strconcat ("dst.", restart->format, NULL);
  g_autofree char *dst = g_build_filename (f->dir, dst_name, NULL);
  g_autofree char *dst_url = g_strconcat ("file://", dst, NULL);
  const char *const slow[]
      = { "--filter=delay", "-r", "file", src, "rdelay=100ms", NULL };
  g_autoptr (TestServer) source = NULL;
  const char *src_url;
  const char *ticket_url;
  const char *format = restart->upload ? restart->format : "raw";
  const char *ops = restart->upload ? "write" : "read";
  g_autoptr (GSubprocess) copy = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  make_source (src);
  test_qemu_img_create (dst, restart->format, "80M", NULL, NULL);
  source = start_nbdkit (f, slow);
  src_url = test_server_get_uri (source);
  ticket_url = restart->upload ? dst_url : src_url;
  daemon_start (f);
  add_ticket (f, ticket_url, format, IMAGE_SIZE, ops);
  copy = restart->upload ? spawn_copy (restart->retries, src_url, f->url, f->ca)
                         : spawn_copy (restart->retries, f->url, dst, f->ca);
  if (restart->between_requests)
    restart_daemon_between (f, copy, ticket_url, format, IMAGE_SIZE, ops);
  else
    restart_daemon_under (f, copy, restart->status == 0, ticket_url, format,
                          IMAGE_SIZE, ops);

  status = test_wait_process (copy, &out, &err);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, restart->status);
  if (status != 0)
    {
      g_assert_nonnull (strstr (err, f->url));
      g_assert_null (strstr (err, "imgxfer: retrying "));
      g_assert_null (strstr (err, "100.00/100%"));
      return;
    }
  /* Writes not flushed when the daemon died were sent again. */
  if (restart->upload)
    g_assert_nonnull (strstr (err, " since its last flush after: "));
  /* The daemon's qemu-nbd holds the qcow2 image's lock. */
  test_daemon_stop (&f->daemon);
  /* The bytes, not their allocation: how the daemon zeroes is its own. */
  test_assert_images_equal (src, "raw", dst, restart->format, FALSE);
}

static const Restart upload_retried = { TRUE, "raw", "--retries=6", 0 };
static const Restart upload_qcow2_retried = { TRUE, "qcow2", "--retries=6", 0 };
static const Restart upload_qcow2_between
    = { TRUE, "qcow2", "--retries=6", 0, TRUE };
static const Restart upload_not_retried = { TRUE, "raw", "--retries=0", 1 };
static const Restart download_retried = { FALSE, "raw", "--retries=6", 0 };
static const Restart download_not_retried = { FALSE, "raw", "--retries=0", 1 };

static void
note_retry (const char *message)
{
  void (*hook) (gpointer) = g_steal_pointer (&retry_hook);

  g_atomic_int_inc (&retries_logged);
  g_free (last_retry);
  last_retry = g_strdup (message);
  if (hook)
    hook (retry_hook_data);
}

static GLogWriterOutput
count_retries (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
               gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        if (g_str_has_prefix (fields[i].value, "retrying "))
          note_retry (fields[i].value);
        if (strstr (fields[i].value, "; using the proxy URL "))
          proxy_lines++;
      }
  return g_log_writer_default (level, fields, n_fields, data);
}

/* A request whose ticket is gone fails at once, with the server's 403,
 * not after a pause. */
static void
test_deleted_ticket (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *url = NULL;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *buffer = g_malloc (MiB);
  gint64 start;

  test_write_pattern (src, 0, 4 * MiB, 'd');
  url = g_strconcat ("file://", src, NULL);
  daemon_start (f);
  add_ticket (f, url, "raw", 4 * MiB, "read");
  imgxfer_open_options_set_ca_file (options, f->ca);
  imgxfer_open_options_set_retries (options, 5);
  backend = imgxfer_open (f->url, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (
      test_run_cli ((const char *[]){ "ticket", "del", "--control-socket",
                                      f->daemon.control, TICKET, NULL },
                    NULL, NULL),
      ==, 0);

  start = g_get_monotonic_time ();
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, MiB,
                                        0, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED);
  g_assert_nonnull (strstr (error->message, "HTTP 403"));
  g_assert_cmpuint (g_atomic_int_get (&retries_logged), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 200 * 1000);
}

static gboolean
send_all (GSocket *socket, const char *data, gsize length)
{
  while (length > 0)
    {
      gssize n = g_socket_send (socket, data, length, NULL, NULL);

      if (n <= 0)
        return FALSE;
      data += n;
      length -= n;
    }
  return TRUE;
}

/* A request's head (OPTIONS and GET have no body). */
static GString *
read_request (GSocket *socket)
{
  GString *request = g_string_new (NULL);
  char buffer[4096];
  gssize n = 1;

  while (n > 0 && strstr (request->str, "\r\n\r\n") == NULL)
    {
      n = g_socket_receive (socket, buffer, sizeof buffer, NULL, NULL);
      if (n > 0)
        g_string_append_len (request, buffer, n);
    }
  return request;
}

/* Passes bytes both ways until a side closes, or the relay stops. */
static void
pump (Relay *relay, GSocket *a, GSocket *b)
{
  GSocket *sockets[] = { a, b };
  char buffer[65536];

  while (!g_atomic_int_get (&relay->stopping))
    {
      GPollFD fds[] = { { g_socket_get_fd (a), G_IO_IN, 0 },
                        { g_socket_get_fd (b), G_IO_IN, 0 } };

      if (g_poll (fds, G_N_ELEMENTS (fds), 100) <= 0)
        continue;
      for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
        {
          gssize n;

          if (fds[i].revents == 0)
            continue;
          n = g_socket_receive (sockets[i], buffer, sizeof buffer, NULL, NULL);
          if (n <= 0 || !send_all (sockets[1 - i], buffer, n))
            return;
        }
    }
}

typedef struct
{
  Relay *relay;
  GSocket *client;
  RelayMode mode;
} RelayConnection;

static gpointer
relay_connection (gpointer data)
{
  RelayConnection *c = data;
  g_autoptr (GSocketAddress) address
      = g_unix_socket_address_new (c->relay->upstream);
  g_autoptr (GSocket) upstream = NULL;
  g_autoptr (GString) request = NULL;
  g_autoptr (GError) error = NULL;
  char answer[4096];
  gssize n;

  g_socket_set_timeout (c->client, 10);
  if (c->mode != RELAY_PASS)
    request = read_request (c->client);
  if (c->mode != RELAY_NO_ANSWER)
    {
      upstream = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_DEFAULT, &error);
      g_assert_no_error (error);
      g_socket_set_timeout (upstream, 10);
      g_socket_connect (upstream, address, NULL, &error);
      g_assert_no_error (error);
    }
  if (c->mode == RELAY_PASS)
    pump (c->relay, c->client, upstream);
  else if (c->mode == RELAY_CUT_ANSWER)
    {
      g_assert_true (send_all (upstream, request->str, request->len));
      n = g_socket_receive (upstream, answer, sizeof answer, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 1);
      g_assert_true (send_all (c->client, answer, n / 2));
    }
  g_socket_close (c->client, NULL);
  g_object_unref (c->client);
  g_free (c);
  return NULL;
}

static gpointer
relay_accept (gpointer data)
{
  Relay *relay = data;

  while (!g_atomic_int_get (&relay->stopping))
    {
      RelayConnection *c;
      GSocket *client;

      if (!g_socket_condition_timed_wait (relay->listener, G_IO_IN, 100 * 1000,
                                          NULL, NULL))
        continue;
      client = g_socket_accept (relay->listener, NULL, NULL);
      if (client == NULL)
        continue;
      c = g_new0 (RelayConnection, 1);
      c->relay = relay;
      c->client = client;
      c->mode = g_atomic_int_add (&relay->connections, 1) == 0 ? relay->first
                                                               : RELAY_PASS;
      g_ptr_array_add (relay->workers,
                       g_thread_new ("relay-connection", relay_connection, c));
    }
  return NULL;
}

/* Listens on a free loopback port. */
static void
relay_start (Relay *relay, const char *upstream, RelayMode first)
{
  g_autoptr (GInetAddress) loopback
      = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  relay->upstream = upstream;
  relay->first = first;
  relay->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (relay->listener, any, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (relay->listener, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (relay->listener, &error);
  g_assert_no_error (error);
  relay->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  relay->workers = g_ptr_array_new ();
  relay->thread = g_thread_new ("relay", relay_accept, relay);
}

static void
relay_stop (Relay *relay)
{
  if (relay->thread == NULL)
    return;
  g_atomic_int_set (&relay->stopping, TRUE);
  g_thread_join (relay->thread);
  for (guint i = 0; i < relay->workers->len; i++)
    g_thread_join (relay->workers->pdata[i]);
  g_ptr_array_unref (relay->workers);
  g_object_unref (relay->listener);
  memset (relay, 0, sizeof *relay);
}

/* A read ticket on 4 MiB of 'o' bytes; the file's path. */
static char *
add_read_ticket (Fixture *f)
{
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", src, NULL);

  test_write_pattern (src, 0, 4 * MiB, 'o');
  add_ticket (f, url, "raw", 4 * MiB, "read");
  return g_steal_pointer (&src);
}

static ImgxferOpenOptions *
retry_options (Fixture *f, guint retries)
{
  ImgxferOpenOptions *options = imgxfer_open_options_new ();

  imgxfer_open_options_set_ca_file (options, f->ca);
  imgxfer_open_options_set_retries (options, retries);
  return options;
}

static ImgxferBackend *
open_ticket (Fixture *f, ImgxferOpenOptions *options)
{
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend = imgxfer_open (f->url, options, NULL, &error);

  g_assert_no_error (error);
  return backend;
}

/* A URL on which nobody listens. */
static char *
unreachable_url (void)
{
  return g_strdup_printf ("https://127.0.0.1:%u/images/" TICKET,
                          test_free_tcp_port ());
}

static void
assert_retried (const char *request)
{
  g_autofree char *prefix = g_strdup_printf ("retrying %s after: ", request);

  g_assert_cmpuint (retries_logged, ==, 1);
  g_assert_true (g_str_has_prefix (last_retry, prefix));
  g_assert_true (g_str_has_suffix (last_retry, " (1/3)"));
}

typedef struct
{
  RelayMode mode;
  gboolean proxy; /* a proxy URL that fails if it is used */
} OptionsCut;

/* The first OPTIONS finds its connection cut after it went out: the
 * server was reached, so it is sent again on a new connection, never to
 * the proxy URL, and the image opens. */
static void
test_options_cut (Fixture *f, gconstpointer data)
{
  const OptionsCut *cut = data;
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *proxy = unreachable_url ();
  g_autofree char *request = NULL;

  daemon_start (f);
  g_free (add_read_ticket (f));
  relay_start (&f->relay, f->daemon.local, cut->mode);
  url = g_strdup_printf ("http://127.0.0.1:%u/images/" TICKET, f->relay.port);
  if (cut->proxy)
    imgxfer_open_options_set_proxy_url (options, proxy);

  backend = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  request = g_strconcat ("OPTIONS ", url, NULL);
  assert_retried (request);
  g_assert_cmpuint (g_atomic_int_get (&f->relay.connections), >=, 2);
  g_assert_cmpuint (proxy_lines, ==, 0);
  test_backend_assert_bytes (backend, 0, 4 * MiB, 'o');
}

static const OptionsCut no_answer = { RELAY_NO_ANSWER, FALSE };
static const OptionsCut cut_answer = { RELAY_CUT_ANSWER, FALSE };
static const OptionsCut cut_answer_proxy = { RELAY_CUT_ANSWER, TRUE };

/* A web server that is not imageio, with @option, serving 4 MiB of 'o'
 * bytes: the URL of @name in its folder. */
static char *
start_web_server (Fixture *f, const char *option, const char *name)
{
  g_autofree char *image = g_build_filename (f->dir, "disk.img", NULL);
  guint16 port;

  test_make_certificates (f->dir, f->ca, f->cert, f->key);
  test_write_pattern (image, 0, 4 * MiB, 'o');
  f->web_server
      = test_web_server_start (f->dir, f->cert, f->key, option, &port);
  return g_strdup_printf ("https://127.0.0.1:%u/%s", port, name);
}

/* Without imageio's OPTIONS, the size is asked at open with a GET of the
 * first byte. The first one finds its connection cut (before any answer,
 * or in the answer's head): the server was reached, so it is sent again
 * on a new connection, and the image opens at its size. */
static void
test_size_cut (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = start_web_server (f, data, "disk.img");
  g_autofree char *request = g_strconcat ("GET ", url, " bytes 0-0", NULL);

  backend = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  assert_retried (request);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 4 * MiB);
  test_backend_assert_bytes (backend, 0, 4 * MiB, 'o');
}

/* Without retries the cut size query fails the open, naming the URL. */
static void
test_size_cut_no_retries (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *url
      = start_web_server (f, "--cut-first-get=none", "disk.img");

  g_assert_null (imgxfer_open (url, options, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, url));
  g_assert_cmpuint (retries_logged, ==, 0);
}

/* A size query answered 404 (no such image) fails at once. */
static void
test_size_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *url = start_web_server (f, NULL, "missing.img");
  gint64 start = g_get_monotonic_time ();

  g_assert_null (imgxfer_open (url, options, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "HTTP 404"));
  g_assert_cmpuint (retries_logged, ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

typedef struct
{
  Fixture *f;
  const char *image;
} RestartHook;

/* The daemon started again with its ticket, at the first retry. */
static void
restart_with_ticket (gpointer data)
{
  RestartHook *restart = data;
  g_autofree char *url = g_strconcat ("file://", restart->image, NULL);

  test_daemon_restart (&restart->f->daemon, restart->f->ca, restart->f->cert,
                       restart->f->key);
  add_ticket (restart->f, url, "raw", 4 * MiB, "read");
}

/* The checksum of the local image, as the daemon computes it. */
static char *
local_checksum (const char *path)
{
  g_autoptr (ImgxferBackend) image = NULL;
  g_autoptr (GError) error = NULL;
  char *checksum;

  image = imgxfer_open (path, NULL, NULL, &error);
  g_assert_no_error (error);
  checksum = imgxfer_checksum_compute (image, NULL, 0, 1, NULL, &error);
  g_assert_no_error (error);
  return checksum;
}

/* The daemon killed, then started again with its ticket while the
 * client waits to retry: at open (a connection refused, no proxy URL),
 * or under the server's checksum (a connection refused after a kept
 * one was found closed). */
static void
test_request_daemon_restarted (Fixture *f, gconstpointer data)
{
  gboolean at_open = GPOINTER_TO_INT (data);
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *image = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *checksum = NULL;
  g_autofree char *request = NULL;
  RestartHook restart = { f };

  daemon_start (f);
  image = add_read_ticket (f);
  restart.image = image;
  expected = local_checksum (image);
  if (!at_open)
    backend = open_ticket (f, options);
  test_daemon_crash (&f->daemon);
  retry_hook = restart_with_ticket;
  retry_hook_data = &restart;
  if (at_open)
    backend = open_ticket (f, options);
  checksum = imgxfer_checksum_compute (backend, NULL, 0, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (checksum, ==, expected);
  request = at_open ? g_strconcat ("OPTIONS ", f->url, NULL)
                    : g_strconcat ("GET ", f->url, "/checksum", NULL);
  assert_retried (request);
}

/* A 403 says the ticket is not there: at open, or under the server's
 * checksum; the request fails at once, with the server's status. */
static void
test_request_forbidden (Fixture *f, gconstpointer data)
{
  gboolean at_open = GPOINTER_TO_INT (data);
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *checksum = NULL;

  daemon_start (f);
  if (!at_open)
    {
      g_free (add_read_ticket (f));
      backend = open_ticket (f, options);
      g_assert_cmpint (
          test_run_cli ((const char *[]){ "ticket", "del", "--control-socket",
                                          f->daemon.control, TICKET, NULL },
                        NULL, NULL),
          ==, 0);
      checksum = imgxfer_checksum_compute (backend, NULL, 0, 1, NULL, &error);
      g_assert_null (checksum);
    }
  else
    g_assert_null (imgxfer_open (f->url, options, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED);
  g_assert_nonnull (strstr (error->message, "HTTP 403"));
  g_assert_cmpuint (retries_logged, ==, 0);
}

/* A server name that does not exist stays so: it fails at once. Where
 * the resolver cannot answer at all (no network), the name is not known
 * not to exist, and the test has nothing to check. */
static void
test_unknown_name (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (GError) error = NULL;

  imgxfer_open_options_set_retries (options, 3);
  g_assert_null (imgxfer_open ("https://no.such.host.invalid/images/" TICKET,
                               options, NULL, &error));
  if (g_error_matches (error, G_RESOLVER_ERROR,
                       G_RESOLVER_ERROR_TEMPORARY_FAILURE))
    {
      g_test_skip (error->message);
      return;
    }
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no.such.host.invalid"));
  g_assert_cmpuint (retries_logged, ==, 0);
}

/* A transfer URL that cannot be reached is not retried when there is a
 * proxy URL: the proxy is used at once, and said so on one line. */
static void
test_proxy_when_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr (ImgxferOpenOptions) options = retry_options (f, 3);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *transfer = unreachable_url ();

  daemon_start (f);
  g_free (add_read_ticket (f));
  imgxfer_open_options_set_proxy_url (options, f->url);
  backend = imgxfer_open (transfer, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (proxy_lines, ==, 1);
  g_assert_cmpuint (retries_logged, ==, 0);
  test_backend_assert_bytes (backend, 0, 4 * MiB, 'o');
}

/* How many lines of @err start with @prefix. */
static guint
count_lines (const char *err, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (err, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i]; i++)
    n += g_str_has_prefix (lines[i], prefix);
  return n;
}

typedef struct
{
  gboolean to_nbd;       /* else from */
  const char *filter_op; /* pread or pwrite */
} NbdRate;

/* One request in ten fails with EIO; 8 MiB in 64 KiB requests make 128
 * of them, none failing 1 time in 700,000. */
static void
test_nbd_rate (Fixture *f, gconstpointer data)
{
  const NbdRate *rate = data;
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  g_autofree char *error_op = g_strdup_printf ("error-%s=EIO", rate->filter_op);
  g_autofree char *error_rate
      = g_strdup_printf ("error-%s-rate=10%%", rate->filter_op);
  const char *const params[]
      = { "--filter=error", "file",     rate->to_nbd ? dst : src,
          error_op,         error_rate, NULL };
  g_autoptr (TestServer) server = NULL;
  const char *uri;
  g_autofree char *err = NULL;
  g_autofree char *prefix = NULL;

  g_test_summary ("nbdkit's error filter at 10%: every failed request is "
                  "sent again and the copy ends identical");
  for (guint i = 0; i < 8; i++)
    test_write_pattern (src, (guint64)i * MiB, MiB, 'n' + i);
  test_create_sparse (dst, 8 * MiB);
  server = start_nbdkit (f, params);
  uri = test_server_get_uri (server);
  g_assert_cmpint (
      test_run_cli ((const char *[]){ "convert", "-n", "--retries=10",
                                      "--request-size=64k",
                                      rate->to_nbd ? src : uri,
                                      rate->to_nbd ? uri : dst, NULL },
                    NULL, &err),
      ==, 0);
  g_test_message ("stderr: %s", err);
  prefix = g_strdup_printf ("imgxfer: retrying %s %s bytes ",
                            rate->to_nbd ? "write" : "read", uri);
  g_assert_cmpuint (count_lines (err, prefix), >, 0);
  g_assert_nonnull (strstr (err, "Input/output error (1/10)"));
  test_assert_images_equal (src, "raw", dst, "raw", TRUE);
}

static const NbdRate read_rate = { FALSE, "pread" };
static const NbdRate write_rate = { TRUE, "pwrite" };

/* Every read fails: the copy fails after its two retries, with the
 * server's error as its last line. */
static void
test_nbd_permanent (Fixture *f, gconstpointer data)
{
  const char *const params[]
      = { "--filter=error",        "pattern", "4M", "error-pread=EIO",
          "error-pread-rate=100%", NULL };
  g_autoptr (TestServer) server = start_nbdkit (f, params);
  const char *uri = test_server_get_uri (server);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  g_autofree char *prefix = g_strdup_printf (
      "imgxfer: retrying read %s bytes 0-65535 after: ", uri);
  g_autofree char *err = NULL;
  const char *last;

  g_assert_cmpint (
      test_run_cli ((const char *[]){ "convert", "--retries=2",
                                      "--connections=1", "--request-size=64k",
                                      uri, dst, NULL },
                    NULL, &err),
      ==, 1);
  g_test_message ("stderr: %s", err);
  g_assert_cmpuint (count_lines (err, "imgxfer: retrying "), ==, 2);
  g_assert_cmpuint (count_lines (err, prefix), ==, 2);
  g_assert_nonnull (strstr (err, "Input/output error (1/2)"));
  g_assert_nonnull (strstr (err, "Input/output error (2/2)"));
  last = g_strrstr (err, "imgxfer: ");
  g_assert_true (g_str_has_prefix (last, "imgxfer: "));
  g_assert_nonnull (strstr (last, uri));
  g_assert_nonnull (strstr (last, "read at offset 0"));
  g_assert_nonnull (strstr (last, "Input/output error"));
  g_assert_null (strstr (last, "retrying"));
}

/* The first flush fails, the second succeeds: on the same connection,
 * where the writes it covers were made. nbdkit's eval plugin serves a
 * file with dd and fails a flush while @flag does not exist. */
static void
test_nbd_flush (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  g_autofree char *flag = g_build_filename (f->dir, "flushed", NULL);
  g_autofree char *get_size = g_strdup_printf ("get_size=stat -c %%s %s", dst);
  g_autofree char *pread = g_strdup_printf (
      "pread=dd if=%s skip=$4 count=$3 iflag=skip_bytes,count_bytes "
      "2>/dev/null",
      dst);
  g_autofree char *pwrite = g_strdup_printf (
      "pwrite=dd of=%s seek=$4 oflag=seek_bytes conv=notrunc 2>/dev/null", dst);
  g_autofree char *flush = g_strdup_printf (
      "flush=test -e %s && exit 0; touch %s; echo 'EIO flush refused' >&2; "
      "exit 1",
      flag, flag);
  const char *const params[] = {
    "eval", get_size, pread, pwrite, "can_write=exit 0", "can_flush=exit 0",
    flush,  NULL
  };
  g_autoptr (TestServer) server = NULL;
  const char *uri;
  g_autofree char *err = NULL;
  g_autofree char *line = NULL;

  test_write_pattern (src, 0, 4 * MiB, 'f');
  test_create_sparse (dst, 4 * MiB);
  server = start_nbdkit (f, params);
  uri = test_server_get_uri (server);
  g_assert_cmpint (
      test_run_cli ((const char *[]){ "convert", "-n", "--connections=1", src,
                                      uri, NULL },
                    NULL, &err),
      ==, 0);
  g_test_message ("stderr: %s", err);
  line = g_strdup_printf ("imgxfer: retrying flush %s after: ", uri);
  g_assert_cmpuint (count_lines (err, line), ==, 1);
  g_assert_true (g_file_test (flag, G_FILE_TEST_EXISTS));
  test_assert_images_equal (src, "raw", dst, "raw", TRUE);
}

/* An NBD server stopped under a copy and started again: the copy's
 * connections are lost, and replaced. A destination's held writes not
 * flushed yet, which the new server may not have: the copy writes them
 * again, says so, and ends identical all the same. */
static void
test_nbd_server_restarted (Fixture *f, gconstpointer data)
{
  gboolean to_nbd = GPOINTER_TO_INT (data);
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  g_autofree char *socket = g_build_filename (f->dir, "nbd.sock", NULL);
  const char *const params[]
      = { "--filter=delay", "file",        to_nbd ? dst : src,
          "rdelay=50ms",    "wdelay=50ms", NULL };
  g_autoptr (TestServer) server = NULL;
  g_autoptr (GSubprocess) copy = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *err = NULL;

  for (guint i = 0; i < 16; i++)
    test_write_pattern (src, (guint64)i * MiB, MiB, 'a' + i);
  test_create_sparse (dst, 16 * MiB);
  server = start_nbdkit (f, params);
  uri = g_strdup (test_server_get_uri (server));
  {
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    const char *const args[] = { "convert",
                                 "-p",
                                 "-n",
                                 "--retries=6",
                                 "--request-size=1m",
                                 to_nbd ? src : uri,
                                 to_nbd ? uri : dst,
                                 NULL };

    copy = test_spawn_cli (launcher, args);
  }
  /* SIGKILL: the delay filter holds SIGTERM up. The copy's retries give
   * the new server time to start. */
  wait_for_some_progress (copy);
  g_assert_cmpint (kill (test_find_child ("nbdkit"), SIGKILL), ==, 0);
  g_clear_pointer (&server, test_server_stop);
  g_assert_cmpint (g_unlink (socket), ==, 0);
  server = start_nbdkit (f, params);

  g_assert_cmpint (test_wait_process (copy, NULL, &err), ==, 0);
  g_test_message ("stderr: %s", err);
  g_assert_nonnull (strstr (err, to_nbd ? "imgxfer: retrying write "
                                        : "imgxfer: retrying read "));
  if (to_nbd)
    g_assert_nonnull (strstr (err, " since its last flush after: "));
  test_assert_images_equal (src, "raw", dst, "raw", TRUE);
}

/* qemu-nbd writing @path (qcow2) with a writeback cache, on @socket,
 * to @shared clients at once: a write it acknowledged and did not flush
 * is gone when it is killed. */
static TestServer *
start_qemu_nbd_writeback (const char *path, const char *socket,
                          const char *shared)
{
  const char *const argv[]
      = { "qemu-nbd",  "--persistent", shared, "--format", "qcow2", "--cache",
          "writeback", "--socket",     socket, path,       NULL };

  return test_server_start (argv, socket);
}

/* The daemon's ticket names a qemu-nbd this test started, killed under
 * an upload (the copy stopped meanwhile, with writes the daemon
 * acknowledged and qemu-nbd did not flush) and started again on the same
 * socket. The daemon's backend replaces its connection and reports the
 * writes lost; the daemon closes the client's connection after a 503, and
 * the copy writes them again from its source and ends identical. */
static void
test_daemon_nbd_restarted (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "src.raw", NULL);
  g_autofree char *dst = g_build_filename (f->dir, "dst.qcow2", NULL);
  g_autofree char *socket = g_build_filename (f->dir, "qemu.sock", NULL);
  const char *const slow[]
      = { "--filter=delay", "-r", "file", src, "rdelay=100ms", NULL };
  g_autoptr (TestServer) source = NULL;
  g_autoptr (TestServer) target = NULL;
  g_autoptr (GSubprocess) copy = NULL;
  g_autofree char *ticket_url = NULL;
  g_autofree char *err = NULL;
  GPid copy_pid;
  int status;

  make_source (src);
  test_qemu_img_create (dst, "qcow2", "80M", NULL, NULL);
  source = start_nbdkit (f, slow);
  target = start_qemu_nbd_writeback (dst, socket, "--shared=8");
  ticket_url = g_strdup (test_server_get_uri (target));
  daemon_start (f);
  add_ticket (f, ticket_url, "raw", IMAGE_SIZE, "write");
  copy
      = spawn_copy ("--retries=6", test_server_get_uri (source), f->url, f->ca);
  copy_pid = atoi (g_subprocess_get_identifier (copy));

  wait_for_some_progress (copy);
  g_assert_cmpint (kill (copy_pid, SIGSTOP), ==, 0);
  g_assert_cmpint (kill (test_find_child ("qemu-nbd"), SIGKILL), ==, 0);
  g_clear_pointer (&target, test_server_stop);
  g_assert_cmpint (g_unlink (socket), ==, 0);
  target = start_qemu_nbd_writeback (dst, socket, "--shared=8");
  g_assert_cmpint (kill (copy_pid, SIGCONT), ==, 0);

  status = test_wait_process (copy, NULL, &err);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (err, " since its last flush after: "));
  test_daemon_stop (&f->daemon);
  g_clear_pointer (&target, test_server_stop);
  test_assert_images_equal (src, "raw", dst, "qcow2", FALSE);
}

/* The restart hook runs inside count_retries(), and a message logged while
 * a log writer runs goes to GLib's fallback writer, which prints every
 * field raw to stdout, in the middle of the TAP stream: under valgrind,
 * GLib's debug line about the missing pidfd_open(), logged as the hook
 * spawns the daemon. GLib's debug messages are of no use here. */
static void
drop_message (const char *domain, GLogLevelFlags level, const char *message,
              gpointer data)
{
}

/* One connection of its own to the daemon's local socket. */
static SoupSession *
local_session (Fixture *f)
{
  g_autoptr (GSocketAddress) address
      = g_unix_socket_address_new (f->daemon.local);

  return soup_session_new_with_options ("remote-connectable", address,
                                        "max-conns", 1, "max-conns-per-host", 1,
                                        NULL);
}

/* Sends @method with @body (NULL: none) to the ticket; its status, and
 * in *@closed whether the daemon closes the connection after it. */
static guint
ticket_request (SoupSession *session, const char *method, const char *query,
                const char *content_range, const char *type, GBytes *body,
                gboolean *closed)
{
  g_autofree char *url
      = g_strconcat ("http://localhost/images/" TICKET, query, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) error = NULL;

  if (content_range)
    soup_message_headers_append (headers, "Content-Range", content_range);
  if (body)
    soup_message_set_request_body_from_bytes (msg, type, body);
  /* libsoup sends a PATCH on a new connection unless told it may. */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  answer = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *closed = soup_message_headers_header_contains (
      soup_message_get_response_headers (msg), "Connection", "close");
  return soup_message_get_status (msg);
}

/* A PUT ?flush=n of 1 MiB of @byte at @offset. */
static guint
put_mib (SoupSession *session, guint64 offset, char byte, gboolean *closed)
{
  g_autofree char *data = g_malloc (MiB);
  g_autoptr (GBytes) body = NULL;
  g_autofree char *range
      = g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/*",
                         offset, offset + MiB - 1);

  memset (data, byte, MiB);
  body = g_bytes_new_take (g_steal_pointer (&data), MiB);
  return ticket_request (session, "PUT", "?flush=n", range,
                         "application/octet-stream", body, closed);
}

/* A PATCH flush. */
static guint
flush_ticket (SoupSession *session, gboolean *closed)
{
  g_autoptr (GBytes) body = g_bytes_new_static ("{\"op\":\"flush\"}", 14);

  return ticket_request (session, "PATCH", "", NULL, "application/json", body,
                         closed);
}

/* How many connections the daemon counts for the ticket. */
static gint64
ticket_connections (Fixture *f)
{
  g_autoptr (SoupMessage) msg
      = soup_message_new ("GET", "http://localhost/tickets/" TICKET);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  body = soup_session_send_and_read (f->daemon.control_session, msg, NULL,
                                     &error);
  g_assert_no_error (error);
  root = json_from_string (g_bytes_get_data (body, NULL), &error);
  g_assert_no_error (error);
  return json_object_get_int_member (json_node_get_object (root),
                                     "connections");
}

/* The daemon's ticket names a qemu-nbd that takes one client at a time
 * (no multi-conn): the ticket's one backend is lent to each connection
 * in turn. One connection writes through it, and the qemu-nbd is killed
 * before any flush (the write is gone with its qcow2 tables) and started
 * again. Another connection finds the loss (a request of its own: a 503
 * that closes its connection), or had borrowed the backend before and
 * closes (the backend then must not be closed with it, its flush failing
 * unheard). The first connection's flush must not succeed then: its
 * write went through that backend and is gone. */
static void
test_daemon_nbd_restarted_lent (Fixture *f, gconstpointer data)
{
  gboolean borrower_gone = GPOINTER_TO_INT (data);
  g_autofree char *dst = g_build_filename (f->dir, "dst.qcow2", NULL);
  g_autofree char *socket = g_build_filename (f->dir, "qemu.sock", NULL);
  g_autoptr (TestServer) target = NULL;
  g_autoptr (SoupSession) writer = NULL;
  g_autoptr (SoupSession) other = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gboolean closed;
  guint status;

  test_qemu_img_create (dst, "qcow2", "8M", NULL, NULL);
  target = start_qemu_nbd_writeback (dst, socket, "--shared=1");
  daemon_start (f);
  add_ticket (f, test_server_get_uri (target), "raw", 8 * MiB, "write");
  writer = local_session (f);
  other = local_session (f);

  g_assert_cmpuint (put_mib (writer, 0, 'w', &closed), ==, 200);
  if (borrower_gone)
    g_assert_cmpuint (
        ticket_request (other, "OPTIONS", "", NULL, NULL, NULL, &closed), ==,
        200);
  g_assert_cmpint (kill (test_find_child ("qemu-nbd"), SIGKILL), ==, 0);
  g_clear_pointer (&target, test_server_stop);
  g_assert_cmpint (g_unlink (socket), ==, 0);
  target = start_qemu_nbd_writeback (dst, socket, "--shared=1");

  if (borrower_gone)
    {
      soup_session_abort (other);
      while (ticket_connections (f) > 1)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (50 * 1000);
        }
    }
  else
    {
      g_assert_cmpuint (put_mib (other, MiB, 'o', &closed), ==, 503);
      g_assert_true (closed);
    }
  status = flush_ticket (writer, &closed);
  if (status == 200)
    {
      g_autoptr (ImgxferBackend) image = NULL;

      /* Then the write must be there. */
      test_daemon_stop (&f->daemon);
      g_clear_pointer (&target, test_server_stop);
      image = imgxfer_open (dst, NULL, NULL, NULL);
      g_assert_nonnull (image);
      test_backend_assert_bytes (image, 0, MiB, 'w');
    }
  g_assert_cmpuint (status, ==, 503);
  g_assert_true (closed);
}

#define add_test(path, data, func)                                             \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (count_retries, NULL, NULL);
  g_log_set_handler ("GLib", G_LOG_LEVEL_DEBUG, drop_message, NULL);

  add_test ("/retry/imageio/upload-daemon-restarted", &upload_retried,
            test_daemon_restarted);
  add_test ("/retry/imageio/upload-qcow2-daemon-restarted",
            &upload_qcow2_retried, test_daemon_restarted);
  add_test ("/retry/imageio/upload-qcow2-daemon-restarted-between-requests",
            &upload_qcow2_between, test_daemon_restarted);
  add_test ("/retry/imageio/upload-daemon-nbd-restarted", NULL,
            test_daemon_nbd_restarted);
  add_test ("/retry/imageio/upload-daemon-nbd-restarted-lent-backend",
            GINT_TO_POINTER (FALSE), test_daemon_nbd_restarted_lent);
  add_test ("/retry/imageio/upload-daemon-nbd-restarted-borrower-gone",
            GINT_TO_POINTER (TRUE), test_daemon_nbd_restarted_lent);
  add_test ("/retry/imageio/upload-no-retries", &upload_not_retried,
            test_daemon_restarted);
  add_test ("/retry/imageio/download-daemon-restarted", &download_retried,
            test_daemon_restarted);
  add_test ("/retry/imageio/download-no-retries", &download_not_retried,
            test_daemon_restarted);
  add_test ("/retry/imageio/deleted-ticket", NULL, test_deleted_ticket);
  add_test ("/retry/imageio/options-no-answer", &no_answer, test_options_cut);
  add_test ("/retry/imageio/options-cut-answer", &cut_answer, test_options_cut);
  add_test ("/retry/imageio/options-cut-answer-not-proxied", &cut_answer_proxy,
            test_options_cut);
  add_test ("/retry/imageio/size-no-answer", "--cut-first-get=none",
            test_size_cut);
  add_test ("/retry/imageio/size-cut-head", "--cut-first-get=head",
            test_size_cut);
  add_test ("/retry/imageio/size-no-retries", NULL, test_size_cut_no_retries);
  add_test ("/retry/imageio/size-not-found", NULL, test_size_not_found);
  add_test ("/retry/imageio/options-daemon-restarted", GINT_TO_POINTER (TRUE),
            test_request_daemon_restarted);
  add_test ("/retry/imageio/checksum-daemon-restarted", GINT_TO_POINTER (FALSE),
            test_request_daemon_restarted);
  add_test ("/retry/imageio/options-forbidden", GINT_TO_POINTER (TRUE),
            test_request_forbidden);
  add_test ("/retry/imageio/checksum-forbidden", GINT_TO_POINTER (FALSE),
            test_request_forbidden);
  add_test ("/retry/imageio/proxy-when-unreachable", NULL,
            test_proxy_when_unreachable);
  add_test ("/retry/imageio/unknown-name", NULL, test_unknown_name);
  add_test ("/retry/nbd/read-rate", &read_rate, test_nbd_rate);
  add_test ("/retry/nbd/write-rate", &write_rate, test_nbd_rate);
  add_test ("/retry/nbd/permanent-error", NULL, test_nbd_permanent);
  add_test ("/retry/nbd/flush", NULL, test_nbd_flush);
  add_test ("/retry/nbd/source-server-restarted", GINT_TO_POINTER (FALSE),
            test_nbd_server_restarted);
  add_test ("/retry/nbd/destination-server-restarted", GINT_TO_POINTER (TRUE),
            test_nbd_server_restarted);

  return g_test_run ();
}
