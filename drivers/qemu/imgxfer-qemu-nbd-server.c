/* imgxfer-qemu-nbd-server.c: a private qemu-nbd child process
 *
 * qemu-nbd listens on a unix socket in a directory only we can reach. It
 * runs with --persistent, so the first backend closing does not end it
 * while clones still connect; the last backend to release it ends it with
 * SIGTERM (qemu-nbd then closes the image cleanly), waits for it and
 * reports how it ended. If imgxfer
 * itself dies, PR_SET_PDEATHSIG takes qemu-nbd with it. Its stderr goes to
 * a memfd, read for error messages, so at worst an empty directory stays
 * behind a process that never released its backends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libnbd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-log.h"
#include "imgxfer-qemu-nbd-server.h"

#define QEMU_NBD "qemu-nbd"
/* Each large request buffer was otherwise mmap'ed and munmap'ed, which
 * made requests of 1 MiB or more 5-7 times slower (measured, qemu 7.2).
 * Without the per-thread cache, small freed chunks no longer stay
 * between the freed request buffers, which then merge again: peak RSS
 * went from 35-52 MiB to 14-19 MiB with 1 MiB requests (from ~175 MiB
 * to ~45 MiB with 4 MiB ones), and copies were not slower. */
#define QEMU_NBD_TUNABLES                                                      \
  "glibc.malloc.mmap_threshold=33554432:"                                      \
  "glibc.malloc.trim_threshold=268435456:"                                     \
  "glibc.malloc.tcache_count=0"
#define START_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define POLL_INTERVAL_US (5 * 1000)

struct _ImgxferQemuNbdServer
{
  GObject parent_instance;

  char *name;
  char *dir;
  char *socket_path;
  int log_fd; /* qemu-nbd's stderr: a memfd, so nothing is left behind */
  char *uri;
  GSubprocess *process;
  gint users; /* atomic: backends using the process, see _release() */
};

G_DEFINE_FINAL_TYPE (ImgxferQemuNbdServer, imgxfer_qemu_nbd_server,
                     G_TYPE_OBJECT)

/* PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the
 * process. Backends may be opened from short-lived pool threads, so every
 * qemu-nbd is forked by one thread that lives as long as the process. */
typedef struct
{
  GSubprocessLauncher *launcher;
  const char *const *argv;
  GSubprocess *process;
  GError *error;
  gboolean done;
} SpawnRequest;

static GMutex spawn_lock;
static GCond spawn_cond;

static gpointer
spawner_thread (gpointer data)
{
  GAsyncQueue *queue = data;

  for (;;)
    {
      SpawnRequest *request = g_async_queue_pop (queue);
      GSubprocess *process = g_subprocess_launcher_spawnv (
          request->launcher, request->argv, &request->error);

      g_mutex_lock (&spawn_lock);
      request->process = process;
      request->done = TRUE;
      g_cond_broadcast (&spawn_cond);
      g_mutex_unlock (&spawn_lock);
    }
  return NULL;
}

static GSubprocess *
spawn_from_lasting_thread (GSubprocessLauncher *launcher,
                           const char *const *argv, GError **error)
{
  static GAsyncQueue *queue;
  SpawnRequest request = { .launcher = launcher, .argv = argv };

  if (g_once_init_enter (&queue))
    {
      GAsyncQueue *new_queue = g_async_queue_new ();

      g_thread_unref (
          g_thread_new ("imgxfer-spawner", spawner_thread, new_queue));
      g_once_init_leave (&queue, new_queue);
    }

  g_async_queue_push (queue, &request);
  g_mutex_lock (&spawn_lock);
  while (!request.done)
    g_cond_wait (&spawn_cond, &spawn_lock);
  g_mutex_unlock (&spawn_lock);

  if (request.process == NULL)
    g_propagate_error (error, request.error);
  return request.process;
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void
child_setup (gpointer data)
{
  pid_t parent = GPOINTER_TO_INT (data);
  sigset_t none;

  /* The child inherits the signal mask of the thread that forked, which
   * may block everything (GLib's worker and pool threads do), and qemu-nbd
   * unblocks none: SIGTERM, ours or the one below, would stay pending for
   * good. */
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* Out of the terminal's process group: a Ctrl-C is for imgxfer, which
   * cancels its copy cleanly and then stops qemu-nbd itself. */
  setsid ();
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  /* The parent may have died before prctl. */
  if (getppid () != parent)
    _exit (1);
}

/* qemu-nbd's last @max_lines messages (0: all), on one line. Notes about
 * clients that went away say nothing about the image. */
static char *
read_log (ImgxferQemuNbdServer *self, guint max_lines)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  guint first;

  text = _imgxfer_qemu_log_read (self->log_fd);
  lines = g_strsplit (g_strstrip (text), "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "Disconnect client") == NULL)
      g_ptr_array_add (kept, lines[i]);

  first = max_lines && kept->len > max_lines ? kept->len - max_lines : 0;
  g_ptr_array_remove_range (kept, 0, first);
  g_ptr_array_add (kept, NULL);
  return g_strjoinv ("; ", (char **)kept->pdata);
}

char *
imgxfer_qemu_nbd_server_get_messages (ImgxferQemuNbdServer *self)
{
  g_return_val_if_fail (IMGXFER_IS_QEMU_NBD_SERVER (self), NULL);
  return read_log (self, 3);
}

static void
set_exited_error (ImgxferQemuNbdServer *self, GError **error)
{
  g_autofree char *log = read_log (self, 0);
  GSubprocess *process = self->process;

  const char *separator = *log ? ": " : "";

  if (g_subprocess_get_if_exited (process))
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                 "%s: qemu-nbd exited with status %d%s%s", self->name,
                 g_subprocess_get_exit_status (process), separator, log);
  else
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                 "%s: qemu-nbd was killed by signal %d%s%s", self->name,
                 g_subprocess_get_term_sig (process), separator, log);
}

/* A full NBD handshake, ended politely (a bare connect would make
 * qemu-nbd log a broken pipe). */
static gboolean
server_accepts (ImgxferQemuNbdServer *self)
{
  struct nbd_handle *nbd = nbd_create ();
  gboolean ok;

  if (nbd == NULL)
    return FALSE;
  ok = nbd_set_opt_mode (nbd, true) == 0
       && nbd_connect_unix (nbd, self->socket_path) == 0;
  if (ok)
    nbd_opt_abort (nbd);
  nbd_close (nbd);
  return ok;
}

/* GSubprocess reaps the child from GLib's worker thread, which clears the
 * identifier: no main loop of ours is needed to see it exit. */
static gboolean
process_running (GSubprocess *process)
{
  return g_subprocess_get_identifier (process) != NULL;
}

static gboolean
wait_until_ready (ImgxferQemuNbdServer *self, GCancellable *cancellable,
                  GError **error)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  for (;;)
    {
      if (server_accepts (self))
        return TRUE;
      if (!process_running (self->process))
        {
          g_subprocess_wait (self->process, NULL, NULL);
          set_exited_error (self, error);
          return FALSE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *log = read_log (self, 0);

          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                       "%s: qemu-nbd did not accept connections within "
                       "%d s: %s",
                       self->name, (int)(START_TIMEOUT_US / G_USEC_PER_SEC),
                       log);
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
}

static gboolean
spawn (ImgxferQemuNbdServer *self, const char *const *args, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *socket_arg
      = g_strconcat ("--socket=", self->socket_path, NULL);
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) local_error = NULL;

  g_strv_builder_add_many (builder, QEMU_NBD, socket_arg, "--persistent", NULL);
  g_strv_builder_addv (builder, (const char **)args);
  argv = g_strv_builder_end (builder);

  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  g_subprocess_launcher_take_stderr_fd (
      launcher, fcntl (self->log_fd, F_DUPFD_CLOEXEC, 3));
  /* A tuning the user chose wins over ours. */
  g_subprocess_launcher_setenv (launcher, "GLIBC_TUNABLES", QEMU_NBD_TUNABLES,
                                FALSE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
                                         GINT_TO_POINTER (getpid ()), NULL);

  self->process = spawn_from_lasting_thread (
      launcher, (const char *const *)argv, &local_error);
  if (self->process == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: cannot start qemu-nbd: %s", self->name,
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

ImgxferQemuNbdServer *
imgxfer_qemu_nbd_server_start (const char *name, const char *const *args,
                               GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferQemuNbdServer) self
      = g_object_new (IMGXFER_TYPE_QEMU_NBD_SERVER, NULL);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *escaped = NULL;

  self->name = g_strdup (name);
  self->dir = g_dir_make_tmp ("imgxfer-qemu-XXXXXX", &local_error);
  if (self->dir == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: cannot make a directory for qemu-nbd: %s", name,
                   local_error->message);
      return NULL;
    }
  self->socket_path = g_build_filename (self->dir, "nbd.sock", NULL);
  self->log_fd = _imgxfer_qemu_log_new ("qemu-nbd-stderr");
  if (self->log_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot make a log for qemu-nbd: %s", name,
                   g_strerror (saved_errno));
      return NULL;
    }
  escaped = g_uri_escape_string (self->socket_path, "/", FALSE);
  self->uri = g_strconcat ("nbd+unix:///?socket=", escaped, NULL);
  self->users = 1;

  if (!spawn (self, args, error)
      || !wait_until_ready (self, cancellable, error))
    return NULL;

  return g_steal_pointer (&self);
}

const char *
imgxfer_qemu_nbd_server_get_uri (ImgxferQemuNbdServer *self)
{
  g_return_val_if_fail (IMGXFER_IS_QEMU_NBD_SERVER (self), NULL);
  return self->uri;
}

/* The file behind /proc/PID/fd/@name, if it is a file or block device
 * still reachable under the name the link gives (not deleted, not a memfd,
 * not a socket). */
static char *
open_file_path (const char *fd_dir, const char *name)
{
  g_autofree char *link = g_build_filename (fd_dir, name, NULL);
  g_autofree char *target = g_file_read_link (link, NULL);
  struct stat opened, named;

  if (target == NULL || target[0] != '/' || stat (link, &opened) < 0
      || !(S_ISREG (opened.st_mode) || S_ISBLK (opened.st_mode))
      || stat (target, &named) < 0 || named.st_dev != opened.st_dev
      || named.st_ino != opened.st_ino)
    return NULL;
  return g_steal_pointer (&target);
}

/* qemu opens the whole chain, data files and extents when it opens the
 * image, and keeps them open: its descriptors list what it reads without
 * our knowing any format. */
gboolean
imgxfer_qemu_nbd_server_add_open_files (ImgxferQemuNbdServer *self,
                                        GPtrArray *files, GError **error)
{
  const char *pid;
  g_autofree char *fd_dir = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *name;

  g_return_val_if_fail (IMGXFER_IS_QEMU_NBD_SERVER (self), FALSE);

  pid = self->process ? g_subprocess_get_identifier (self->process) : NULL;
  if (pid == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: qemu-nbd is not running", self->name);
      return FALSE;
    }
  fd_dir = g_strdup_printf ("/proc/%s/fd", pid);
  dir = g_dir_open (fd_dir, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: cannot list the files qemu-nbd opened: %s", self->name,
                   local_error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *path = open_file_path (fd_dir, name);

      if (path != NULL)
        g_ptr_array_add (files, path);
    }
  return TRUE;
}

/* Stops qemu-nbd with SIGTERM, after which it closes the image cleanly
 * and exits 0; any other end is an error (it crashed meanwhile, or had to
 * be killed), reported with its messages. */
static gboolean
stop_process (ImgxferQemuNbdServer *self, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_US;
  gboolean killed = FALSE;
  gboolean ok;

  if (self->process == NULL)
    return TRUE;

  g_subprocess_send_signal (self->process, SIGTERM);
  while (process_running (self->process) && g_get_monotonic_time () < deadline)
    g_usleep (POLL_INTERVAL_US);

  if (process_running (self->process))
    {
      killed = TRUE;
      g_subprocess_force_exit (self->process);
    }
  g_subprocess_wait (self->process, NULL, NULL);

  ok = !killed && g_subprocess_get_if_exited (self->process)
       && g_subprocess_get_exit_status (self->process) == 0;
  if (killed)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                 "%s: qemu-nbd ignored SIGTERM and was killed", self->name);
  else if (!ok)
    set_exited_error (self, error);
  g_clear_object (&self->process);
  return ok;
}

void
imgxfer_qemu_nbd_server_hold (ImgxferQemuNbdServer *self)
{
  g_return_if_fail (IMGXFER_IS_QEMU_NBD_SERVER (self));
  g_atomic_int_inc (&self->users);
}

gboolean
imgxfer_qemu_nbd_server_release (ImgxferQemuNbdServer *self, GError **error)
{
  g_return_val_if_fail (IMGXFER_IS_QEMU_NBD_SERVER (self), FALSE);

  if (!g_atomic_int_dec_and_test (&self->users))
    return TRUE;
  return stop_process (self, error);
}

static void
remove_directory (ImgxferQemuNbdServer *self)
{
  if (self->dir == NULL)
    return;
  /* qemu-nbd removes its socket when it exits; not when it was killed. */
  g_unlink (self->socket_path);
  if (g_rmdir (self->dir) < 0)
    g_warning ("Cannot remove %s: %s", self->dir, g_strerror (errno));
}

static void
imgxfer_qemu_nbd_server_finalize (GObject *object)
{
  ImgxferQemuNbdServer *self = IMGXFER_QEMU_NBD_SERVER (object);
  g_autoptr (GError) error = NULL;

  /* Its users all released it, unless it failed to start. */
  if (!stop_process (self, &error))
    g_debug ("%s", error->message);
  remove_directory (self);
  g_free (self->name);
  g_free (self->dir);
  g_free (self->socket_path);
  if (self->log_fd >= 0)
    close (self->log_fd);
  g_free (self->uri);

  G_OBJECT_CLASS (imgxfer_qemu_nbd_server_parent_class)->finalize (object);
}

static void
imgxfer_qemu_nbd_server_class_init (ImgxferQemuNbdServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = imgxfer_qemu_nbd_server_finalize;
}

static void
imgxfer_qemu_nbd_server_init (ImgxferQemuNbdServer *self)
{
  self->log_fd = -1;
}
