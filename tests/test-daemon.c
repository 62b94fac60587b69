/* test-daemon.c: a real `imgxfer serve` spawned by a test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixinputstream.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "test-daemon.h"

/* A daemon outlives no failed test. SIGTERM, not SIGKILL: the daemon
 * then stops its qemu-nbd children and removes their folders. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static char *
read_url (int out_fd)
{
  g_autoptr (GInputStream) out = g_unix_input_stream_new (out_fd, TRUE);
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (out);
  g_autoptr (GError) error = NULL;

  for (;;)
    {
      g_autofree char *line
          = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "listening on "))
        return g_strdup (line + strlen ("listening on "));
    }
}

/* Spawns the daemon of @d on @port, its configuration file written in
 * its folder, which is its TMPDIR too: the folders of a qemu-nbd killed
 * with it go with the test's. */
static void
spawn (TestDaemon *d, const char *port, const char *ca, const char *cert,
       const char *key)
{
  g_autofree char *config_file = g_build_filename (d->dir, "serve.conf", NULL);
  const char *argv[] = { g_getenv ("IMGXFER_CLI"),
                         "serve",
                         "--foreground",
                         "--host",
                         "127.0.0.1",
                         "--port",
                         port,
                         "--cert",
                         cert,
                         "--key",
                         key,
                         "--control-socket",
                         d->control,
                         "--local-socket",
                         d->local,
                         "--config",
                         config_file,
                         NULL };
  g_auto (GStrv) env
      = g_environ_setenv (g_get_environ (), "TMPDIR", d->dir, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsDatabase) database = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  int out_fd;

  g_assert_true (g_spawn_async_with_pipes (
      NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent,
      NULL, &d->pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  d->url = read_url (out_fd);
  g_assert_true (g_str_has_prefix (d->url, "https://127.0.0.1:"));

  database = g_tls_file_database_new (ca, &error);
  g_assert_no_error (error);
  d->https = soup_session_new_with_options ("tls-database", database, NULL);
  address = g_unix_socket_address_new (d->control);
  d->control_session
      = soup_session_new_with_options ("remote-connectable", address, NULL);
}

void
test_daemon_start (TestDaemon *d, const char *dir, const char *ca,
                   const char *cert, const char *key, const char *config)
{
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *config_file = g_build_filename (dir, "serve.conf", NULL);
  g_autofree char *config_text
      = g_strdup_printf ("[daemon]\nstate_dir = %s\n%s", state, config);

  d->dir = g_strdup (dir);
  d->control = g_build_filename (dir, "control.sock", NULL);
  d->local = g_build_filename (dir, "local.sock", NULL);
  g_assert_true (g_file_set_contents (config_file, config_text, -1, NULL));
  spawn (d, "0", ca, cert, key);
}

/* SIGKILL to the daemon and to its children; waits for the daemon.
 * Its wait status. */
static int
kill_daemon (TestDaemon *d)
{
  g_autofree char *parent = g_strdup_printf ("%d", d->pid);
  const char *const pkill[] = { "pkill", "-KILL", "-P", parent, NULL };
  g_autoptr (GSubprocess) children = NULL;
  int status;

  children = g_subprocess_newv (pkill, G_SUBPROCESS_FLAGS_NONE, NULL);
  g_assert_nonnull (children);
  g_assert_true (g_subprocess_wait (children, NULL, NULL));
  g_assert_cmpint (kill (d->pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (d->pid, &status, 0), ==, d->pid);
  return status;
}

void
test_daemon_crash (TestDaemon *d)
{
  kill_daemon (d);
  g_spawn_close_pid (d->pid);
  d->pid = 0;
  g_clear_object (&d->https);
  g_clear_object (&d->control_session);
}

void
test_daemon_restart (TestDaemon *d, const char *ca, const char *cert,
                     const char *key)
{
  g_autofree char *url = g_steal_pointer (&d->url);

  spawn (d, strrchr (url, ':') + 1, ca, cert, key);
  g_assert_cmpstr (d->url, ==, url);
}

int
test_daemon_stop (TestDaemon *d)
{
  return test_daemon_stop_with (d, SIGTERM);
}

int
test_daemon_stop_with (TestDaemon *d, int signal)
{
  return test_daemon_stop_within (d, signal, 20);
}

int
test_daemon_stop_within (TestDaemon *d, int signal, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  int status = -1;

  /* A crashed daemon is gone already; kill (0) would signal the test. */
  if (d->pid != 0)
    kill (d->pid, signal);
  while (d->pid != 0 && waitpid (d->pid, &status, WNOHANG) != d->pid)
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *message = g_strdup_printf (
              "imgxfer serve (pid %d) did not exit %u s after signal %d: "
              "killed",
              d->pid, seconds, signal);

          /* On stderr too: meson shows it, and a test of this helper
           * traps it. */
          g_printerr ("%s\n", message);
          g_test_fail_printf ("%s", message);
          status = kill_daemon (d);
          break;
        }
      g_usleep (10000);
    }
  if (d->pid != 0)
    g_spawn_close_pid (d->pid);
  d->pid = 0;
  g_clear_object (&d->https);
  g_clear_object (&d->control_session);
  g_clear_pointer (&d->url, g_free);
  g_clear_pointer (&d->control, g_free);
  g_clear_pointer (&d->local, g_free);
  g_clear_pointer (&d->dir, g_free);
  return status;
}
