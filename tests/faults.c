/* faults.c: what `imgxfer` does when the storage under a copy fails: an
 * NBD server that answers errors, a full file system, a qemu-nbd that
 * dies, a connection whose close reports an error. Each ends in one error
 * line that names the image, exit 1, no success reported, no process and
 * no temporary folder left. The NBD errors are not retried here
 * (--retries=0); tests/retry.c shows what retries do.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/mount.h>

#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)

typedef struct
{
  char *dir;
  char *tmp;    /* TMPDIR of the command: must be empty at the end */
  char *src;    /* 8 MiB of data */
  char *socket; /* where the NBD server listens */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
  f->tmp = g_build_filename (f->dir, "tmp", NULL);
  f->src = g_build_filename (f->dir, "src.raw", NULL);
  f->socket = g_build_filename (f->dir, "nbd.sock", NULL);
  g_assert_cmpint (g_mkdir (f->tmp, 0700), ==, 0);
  test_write_pattern (f->src, 0, 8 * MiB, 'f');
}

/* Nothing of the test may outlive it: no process that names its folder
 * (a server, a qemu-nbd), nothing in the command's TMPDIR. */
static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  const char *pgrep[] = { "pgrep", "-f", f->dir, NULL };
  g_autoptr (GDir) tmp = g_dir_open (f->tmp, 0, NULL);

  g_assert_cmpint (test_run (pgrep, NULL, NULL), ==, 1);
  g_assert_nonnull (tmp);
  g_assert_null (g_dir_read_name (tmp));
  g_free (f->socket);
  g_free (f->src);
  g_free (f->tmp);
  test_tmpdir_free (f->dir);
}

/* Starts `imgxfer ARGS...` with stdout and stderr in pipes and the
 * fixture's folder as TMPDIR. */
static GSubprocess *
spawn_cli (Fixture *f, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_subprocess_launcher_setenv (launcher, "TMPDIR", f->tmp, TRUE);
  return test_spawn_cli (launcher, args);
}

/* Waits for @process, which must end with @status and one error line
 * holding each of @words (NULL-terminated), and report nothing done:
 * no progress at 100%, no summary on stdout (asked with --output=json). */
static void
assert_ended_in_error (GSubprocess *process, int status,
                       const char *const *words)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *line;

  g_assert_cmpint (test_wait_process (process, &out, &err), ==, status);
  g_test_message ("stderr: %s", err);
  g_assert_cmpstr (out, ==, "");
  g_assert_null (strstr (err, "100.00/100%"));
  /* One line, the last: the error, after any progress. */
  line = strstr (err, "imgxfer: ");
  g_assert_nonnull (line);
  g_assert_true (strchr (line, '\n') == line + strlen (line) - 1);
  for (; *words; words++)
    g_assert_nonnull (strstr (line, *words));
}

/* Runs `imgxfer ARGS...`, which must fail so, with exit 1. */
static void
assert_fails (Fixture *f, const char *const *args, const char *const *words)
{
  g_autoptr (GSubprocess) process = spawn_cli (f, args);

  assert_ended_in_error (process, 1, words);
}

/* Starts nbdkit's @plugin (and its @params, NULL-terminated) behind its
 * error filter on the fixture's socket. */
static TestServer *
start_nbdkit (Fixture *f, const char *const *plugin)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *const head[] = { "nbdkit", "--foreground", "--exit-with-parent",
                               "--unix", f->socket,      "--filter=error",
                               NULL };

  for (guint i = 0; head[i]; i++)
    g_ptr_array_add (argv, (char *)head[i]);
  for (; *plugin; plugin++)
    g_ptr_array_add (argv, (char *)*plugin);
  g_ptr_array_add (argv, NULL);
  return test_server_start ((const char *const *)argv->pdata, f->socket);
}

typedef struct
{
  const char *name;
  const char *const *server; /* plugin and error filter parameters */
  gboolean destination;      /* the export is written, else read */
  const char *op;            /* what the error line says failed */
} NbdFault;

static const char *const pread_always[]
    = { "pattern", "8M", "error-pread=EIO", "error-pread-rate=100%", NULL };
static const char *const pwrite_always[]
    = { "memory", "8M", "error-pwrite=EIO", "error-pwrite-rate=100%", NULL };
static const char *const zero_always[]
    = { "memory", "8M", "error-zero=EIO", "error-zero-rate=100%", NULL };
/* With 128 requests of 64 KiB, all succeed 1 time in 700,000. */
static const char *const read_rate[]
    = { "pattern", "8M", "error=EIO", "error-rate=10%", NULL };
static const char *const write_rate[]
    = { "memory", "8M", "error=EIO", "error-rate=10%", NULL };

static const NbdFault nbd_faults[] = {
  { "/faults/nbd/read", pread_always, FALSE, "read at offset " },
  { "/faults/nbd/write", pwrite_always, TRUE, "write at offset " },
  { "/faults/nbd/zero", zero_always, TRUE, "zero at offset " },
  { "/faults/nbd/read-rate", read_rate, FALSE, "read at offset " },
  { "/faults/nbd/write-rate", write_rate, TRUE, "write at offset " },
};

/* A copy from or to an export whose server fails the operation: exit 1,
 * the export and the operation named, never 100%. */
static void
test_nbd_convert (Fixture *f, gconstpointer data)
{
  const NbdFault *fault = data;
  g_autoptr (TestServer) server = start_nbdkit (f, fault->server);
  const char *uri = test_server_get_uri (server);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  /* The source is all data for a write fault, all zeroes for a zero
   * fault; small requests make many of them for a rate. */
  g_autofree char *zeroes = g_build_filename (f->dir, "zeroes.raw", NULL);
  gboolean zero = strstr (fault->op, "zero") != NULL;
  const char *const args[]
      = { "convert",
          "-p",
          "--output=json",
          "--request-size=64k",
          "--retries=0",
          "-n",
          fault->destination ? (zero ? zeroes : f->src) : uri,
          fault->destination ? uri : dst,
          NULL };
  const char *const words[] = { uri, fault->op, "Input/output error", NULL };

  test_create_sparse (zeroes, 8 * MiB);
  test_create_sparse (dst, 8 * MiB);
  assert_fails (f, args, words);
}

/* A checksum of an export that fails reads prints no checksum. */
static void
test_nbd_checksum (Fixture *f, gconstpointer data)
{
  const char *const *server_args = data;
  g_autoptr (TestServer) server = start_nbdkit (f, server_args);
  const char *uri = test_server_get_uri (server);
  const char *const args[]
      = { "checksum", "--output=json", "--retries=0", uri, NULL };
  const char *const words[] = { uri, "read at offset ", NULL };

  assert_fails (f, args, words);
}

/* A flush that fails at the end of a copy fails the copy: the data may
 * never reach the disk. nbdkit 1.32's error filter cannot fail a flush;
 * its eval plugin serves a disk that drops writes and fails flushes. */
static void
test_nbd_flush (Fixture *f, gconstpointer data)
{
  const char *const server_argv[]
      = { "nbdkit",
          "--foreground",
          "--exit-with-parent",
          "--unix",
          f->socket,
          "eval",
          "get_size=echo 8388608",
          "pread=dd if=/dev/zero count=$3 iflag=count_bytes 2>/dev/null",
          "pwrite=cat >/dev/null",
          "can_write=exit 0",
          "can_zero=exit 0",
          "zero=exit 0",
          "can_flush=exit 0",
          "flush=echo 'EIO flush refused' >&2; exit 1",
          NULL };
  g_autoptr (TestServer) server = test_server_start (server_argv, f->socket);
  const char *uri = test_server_get_uri (server);
  const char *const args[]
      = { "convert", "-p", "--output=json", "--retries=0", "-n", f->src,
          uri,       NULL };
  const char *const words[] = { uri, "flush", NULL };

  assert_fails (f, args, words);
}

/* A copy into a file system that fills up: "No space left on device",
 * naming the destination. A tmpfs of 8 MiB takes a copy of 64 MiB. */
static void
test_enospc (Fixture *f, gconstpointer data)
{
  g_autofree char *mnt = g_build_filename (f->dir, "mnt", NULL);
  g_autofree char *src = g_build_filename (f->dir, "big.raw", NULL);
  g_autofree char *dst = g_build_filename (mnt, "dst.raw", NULL);
  const char *const args[]
      = { "convert", "-p", "--output=json", src, dst, NULL };
  const char *const words[] = { dst, "No space left on device", NULL };

  g_assert_cmpint (g_mkdir (mnt, 0700), ==, 0);
  if (mount ("tmpfs", mnt, "tmpfs", 0, "size=8M") != 0)
    {
      g_autofree char *why
          = g_strdup_printf ("cannot mount a tmpfs: %s", g_strerror (errno));

      g_test_skip (why);
      return;
    }
  test_write_pattern (src, 0, 64 * MiB, 's');
  assert_fails (f, args, words);
  g_assert_cmpint (umount (mnt), ==, 0);
}

/* The pid of @parent's child named @name, waiting up to 60 s for it:
 * the command may start slowly on a loaded machine. */
static int
wait_for_child (const char *parent, const char *name)
{
  const char *pgrep[] = { "pgrep", "-P", parent, "-x", name, NULL };

  for (guint i = 0; i < 6000; i++)
    {
      g_autofree char *out = NULL;

      if (test_run (pgrep, &out, NULL) == 0)
        return atoi (out);
      g_usleep (10 * 1000);
    }
  g_assert_not_reached ();
}

typedef struct
{
  gboolean kill_qemu_nbd; /* else the signal goes to imgxfer */
  int signal_number;
  int exit_status;
  const char *says; /* in the error line, if set */
} QemuFault;

/* qemu-nbd killed while the qemu driver reads a compressed qcow2 image
 * (compressed clusters are not read straight from the file): exit 1.
 * Ctrl-C (SIGINT) there: exit 4. Either way the image is named, and no
 * qemu-nbd and no private folder is left. */
static void
test_qemu_copy_stopped (Fixture *f, gconstpointer data)
{
  const QemuFault *fault = data;
  g_autofree char *qcow2 = g_build_filename (f->dir, "src.qcow2", NULL);
  g_autofree char *dst = g_build_filename (f->dir, "dst.raw", NULL);
  g_autofree char *big = g_build_filename (f->dir, "big.raw", NULL);
  const char *const create[]
      = { "qemu-img", "convert", "-c", "-O", "qcow2", big, qcow2, NULL };
  /* 16384 requests of 4 KiB, one at a time: seconds of copying. */
  const char *const args[] = { "convert",
                               "-p",
                               "--output=json",
                               "--request-size=4k",
                               "--connections=1",
                               qcow2,
                               dst,
                               NULL };
  /* The image is named, and what the fault says if it is set. */
  const char *const words[] = { qcow2, fault->says, NULL };
  g_autoptr (GSubprocess) process = NULL;
  int qemu_nbd;

  test_write_pattern (big, 0, 64 * MiB, 'k');
  test_run_ok (create);
  process = spawn_cli (f, args);
  qemu_nbd = wait_for_child (g_subprocess_get_identifier (process), "qemu-nbd");
  test_wait_for_progress (process);
  if (fault->kill_qemu_nbd)
    g_assert_cmpint (kill (qemu_nbd, fault->signal_number), ==, 0);
  else
    g_subprocess_send_signal (process, fault->signal_number);

  assert_ended_in_error (process, fault->exit_status, words);
  g_assert_true (test_wait_process_gone (qemu_nbd, 10));
}

/* The error is a failed read, or, if the copy got to its end first, how
 * qemu-nbd died. */
static const QemuFault qemu_nbd_killed = { TRUE, SIGKILL, 1, NULL };
static const QemuFault sigint = { FALSE, SIGINT, 4, "cancelled" };

/* A memory image whose first close fails as a write-back error found
 * then does: one connection, so that the command's own close is the one. */
#define CLOSE_FAILS "memory:?size=1m&max-connections=1&fail-close=1"
#define CLOSES_WELL "memory:?size=1m&max-connections=1"

/* Every command that opens an image closes it and reports the error,
 * printing no result. */
static void
test_close_error (Fixture *f, gconstpointer data)
{
  const char *const *args = data;
  const char *const words[] = { "memory:", "write-back failed", NULL };

  assert_fails (f, args, words);
}

static const char *const info_args[]
    = { "info", "--output=json", CLOSE_FAILS, NULL };
static const char *const extents_args[]
    = { "extents", "--output=json", CLOSE_FAILS, NULL };
static const char *const checksum_args[]
    = { "checksum", "--output=json", CLOSE_FAILS, NULL };
static const char *const measure_args[]
    = { "measure", "--output=json", "-O", "raw", CLOSE_FAILS, NULL };
static const char *const compare_args[]
    = { "compare", CLOSES_WELL, CLOSE_FAILS, NULL };

#define add_test(path, data, func)                                             \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (nbd_faults); i++)
    add_test (nbd_faults[i].name, &nbd_faults[i], test_nbd_convert);
  add_test ("/faults/nbd/flush", NULL, test_nbd_flush);
  add_test ("/faults/nbd/checksum-read", pread_always, test_nbd_checksum);
  add_test ("/faults/file/no-space", NULL, test_enospc);
  add_test ("/faults/close/info", info_args, test_close_error);
  add_test ("/faults/close/extents", extents_args, test_close_error);
  add_test ("/faults/close/checksum", checksum_args, test_close_error);
  add_test ("/faults/close/measure", measure_args, test_close_error);
  add_test ("/faults/close/compare", compare_args, test_close_error);
  add_test ("/faults/qemu/qemu-nbd-killed", &qemu_nbd_killed,
            test_qemu_copy_stopped);
  add_test ("/faults/qemu/sigint", &sigint, test_qemu_copy_stopped);

  return g_test_run ();
}
