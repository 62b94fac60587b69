/* test-servers.c: NBD servers started by tests, and extent assertions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <libnbd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "test-servers.h"

/* Generous: a server starts slowly on a loaded machine, and the probes
 * run under valgrind with the test. */
#define START_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define POLL_US (10 * 1000)

struct _TestServer
{
  GSubprocess *process;
  char *uri;
};

/* A complete handshake, ended with NBD_OPT_ABORT so the server logs
 * nothing. Only options are negotiated, so a server that requires TLS
 * answers a plain probe too. */
static gboolean
accepts_nbd (const char *uri)
{
  struct nbd_handle *nbd = nbd_create ();
  gboolean ok;

  g_assert_nonnull (nbd);
  ok = nbd_set_opt_mode (nbd, true) == 0 && nbd_connect_uri (nbd, uri) == 0;
  if (ok)
    nbd_opt_abort (nbd);
  nbd_close (nbd);
  return ok;
}

/* A test that fails aborts without stopping its servers: they must not
 * outlive it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

TestServer *
test_server_start_uri (const char *const *argv, const char *uri)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  TestServer *server = g_new0 (TestServer, 1);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  server->uri = g_strdup (uri);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  while (!accepts_nbd (uri))
    {
      if (g_subprocess_get_identifier (server->process) == NULL)
        g_error ("%s exited before accepting connections", argv[0]);
      if (g_get_monotonic_time () > deadline)
        g_error ("%s did not accept connections in time", argv[0]);
      g_usleep (POLL_US);
    }
  return server;
}

TestServer *
test_server_start (const char *const *argv, const char *socket_path)
{
  g_autofree char *escaped = g_uri_escape_string (socket_path, "/", FALSE);
  g_autofree char *uri = g_strconcat ("nbd+unix:///?socket=", escaped, NULL);

  return test_server_start_uri (argv, uri);
}

TestServer *
test_qemu_nbd_start (const char *path, const char *format,
                     const char *socket_path)
{
  const char *const argv[]
      = { "qemu-nbd", "--read-only", "--persistent", "--shared=8", "--format",
          format,     "--socket",    socket_path,    path,         NULL };

  return test_server_start (argv, socket_path);
}

GSubprocess *
test_web_server_start (const char *root, const char *cert, const char *key,
                       const char *option, guint16 *port)
{
  g_autofree char *script = g_build_filename (g_getenv ("IMGXFER_SOURCE_DIR"),
                                              "tests", "web-server.py", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  GSubprocess *server;

  g_ptr_array_add (argv, "/usr/bin/python3");
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, (char *)root);
  if (cert)
    {
      g_ptr_array_add (argv, "--cert");
      g_ptr_array_add (argv, (char *)cert);
      g_ptr_array_add (argv, "--key");
      g_ptr_array_add (argv, (char *)key);
    }
  g_ptr_array_add (argv, (char *)option);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server = g_subprocess_launcher_spawnv (
      launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  *port = g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (*port, >, 0);
  return server;
}

void
test_pause_control (const char *socket_path, char command)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  char answer = 0;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (connection)), &command, 1,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)), &answer, 1, NULL,
      NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (answer, ==, g_ascii_toupper (command));
}

guint16
test_free_tcp_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  /* Free again when the listener goes; a race with another program is
   * possible but unlikely on loopback test ports. */
  g_assert_no_error (error);
  return port;
}

const char *
test_server_get_uri (TestServer *server)
{
  return server->uri;
}

void
test_server_stop (TestServer *server)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_US;

  if (server == NULL)
    return;

  g_subprocess_send_signal (server->process, SIGTERM);
  while (g_subprocess_get_identifier (server->process) != NULL
         && g_get_monotonic_time () < deadline)
    g_usleep (POLL_US);
  if (g_subprocess_get_identifier (server->process) != NULL)
    g_subprocess_force_exit (server->process);
  g_subprocess_wait (server->process, NULL, NULL);

  g_object_unref (server->process);
  g_free (server->uri);
  g_free (server);
}

/* /proc/PID/stat is "PID (COMM) STATE PPID ..."; COMM may hold spaces
 * and parentheses, so it ends at the last ')'. */
static gboolean
read_proc_stat (int pid, char **comm, char *state, int *ppid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *open, *close;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  open = strchr (stat, '(');
  close = strrchr (stat, ')');
  if (open == NULL || close == NULL || close < open
      || sscanf (close + 1, " %c %d", state, ppid) != 2)
    return FALSE;
  *comm = g_strndup (open + 1, close - open - 1);
  return TRUE;
}

/* Live children of this program named @name: how many, and the first. */
static guint
find_children (const char *name, int *first)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;
  guint count = 0;

  g_assert_nonnull (proc);
  *first = 0;
  while ((entry = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *comm = NULL;
      char state;
      int ppid;

      /* A zombie is gone already, only not reaped. */
      if (g_ascii_isdigit (entry[0])
          && read_proc_stat (atoi (entry), &comm, &state, &ppid)
          && ppid == getpid () && state != 'Z' && g_str_equal (comm, name)
          && count++ == 0)
        *first = atoi (entry);
    }
  return count;
}

guint
test_count_children (const char *name)
{
  int first;

  return find_children (name, &first);
}

int
test_find_child (const char *name)
{
  int first;

  find_children (name, &first);
  return first;
}

/* After its exit a process shows as a zombie ('Z'), then, while it is
 * reaped, as dead ('X', 'x' on older kernels), then not at all; a read
 * of its stat file may fail anywhere in between. None of these comes
 * back to life, so once one is seen the process is gone. */
gboolean
test_process_gone (int pid)
{
  g_autofree char *comm = NULL;
  char state;
  int ppid;

  return !read_proc_stat (pid, &comm, &state, &ppid) || state == 'Z'
         || state == 'X' || state == 'x';
}

gboolean
test_wait_process_gone (int pid, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!test_process_gone (pid))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (10 * 1000);
    }
  return TRUE;
}

static char *
extents_to_string (const ImgxferExtent *extents, guint n)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (
        text, "  {%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "%s%s%s}\n",
        extents[i].start, extents[i].length,
        extents[i].flags & IMGXFER_EXTENT_ZERO ? " zero" : "",
        extents[i].flags & IMGXFER_EXTENT_HOLE ? " hole" : "",
        extents[i].flags & IMGXFER_EXTENT_DIRTY ? " dirty" : "");
  return g_string_free (text, FALSE);
}

void
test_assert_extents (GArray *extents, const ImgxferExtent *expected,
                     guint n_expected)
{
  gboolean same = extents->len == n_expected;

  for (guint i = 0; same && i < n_expected; i++)
    {
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

      same = e->start == expected[i].start && e->length == expected[i].length
             && e->flags == expected[i].flags;
    }

  if (!same)
    {
      g_autofree char *got = extents_to_string (
          (const ImgxferExtent *)extents->data, extents->len);
      g_autofree char *want = extents_to_string (expected, n_expected);

      g_error ("extents differ:\ngot:\n%swant:\n%s", got, want);
    }
}

GArray *
test_all_extents (ImgxferBackend *backend, ImgxferExtentContext context)
{
  g_autoptr (GError) error = NULL;
  GArray *extents = imgxfer_image_extents (backend, context, NULL, &error);

  g_assert_no_error (error);
  return extents;
}

void
test_backend_fill (ImgxferBackend *backend, guint64 offset, gsize length,
                   guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  g_autoptr (GError) error = NULL;

  memset (buffer, byte, length);
  imgxfer_destination_pwrite (IMGXFER_DESTINATION (backend), buffer, length,
                              offset, NULL, &error);
  g_assert_no_error (error);
}

void
test_backend_assert_bytes (ImgxferBackend *backend, guint64 offset,
                           gsize length, guint8 byte)
{
  g_autofree guint8 *buffer = g_malloc (length);
  g_autoptr (GError) error = NULL;

  imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, length, offset, NULL,
                        &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < length; i++)
    if (buffer[i] != byte)
      g_error ("byte %" G_GUINT64_FORMAT " is 0x%02x, not 0x%02x", offset + i,
               buffer[i], byte);
}
