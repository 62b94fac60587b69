/* cli.c: what every `imgxfer` command shares: its output, its errors, its
 * signals and its command line
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
  char *dir;
  char *raw; /* 8 MiB, data in its second MiB */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = test_tmpdir_new ();
  f->raw = g_build_filename (f->dir, "x.raw", NULL);
  test_create_sparse (f->raw, 8 * MiB);
  test_write_pattern (f->raw, 1 * MiB, 1 * MiB, 0x5a);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_free (f->raw);
  test_tmpdir_free (f->dir);
}

static char *
example_module_dir (void)
{
  return g_build_filename (g_getenv ("IMGXFER_BUILD_DIR"), "docs", "examples",
                           "driver-module", NULL);
}

/* Starts `imgxfer ARGS...` through the shell with @redirect after it
 * (">/dev/full", ">&-"), stderr in a pipe, @tmpdir as TMPDIR when set and
 * the example driver module on the driver path. */
static GSubprocess *
spawn_cli (const char *redirect, const char *tmpdir, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDERR_PIPE
      | (redirect ? 0 : G_SUBPROCESS_FLAGS_STDOUT_PIPE));
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *script
      = g_strdup_printf ("exec \"$@\" %s", redirect ? redirect : "");
  g_autofree char *modules = example_module_dir ();
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, "/bin/sh");
  g_ptr_array_add (argv, "-c");
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, "sh");
  g_ptr_array_add (argv, (char *)g_getenv ("IMGXFER_CLI"));
  for (; *args; args++)
    g_ptr_array_add (argv, (char *)*args);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "IMGXFER_DRIVER_PATH", modules, TRUE);
  if (tmpdir)
    g_subprocess_launcher_setenv (launcher, "TMPDIR", tmpdir, TRUE);
  process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static int
run_cli (const char *redirect, const char *const *args, char **err)
{
  g_autoptr (GSubprocess) process = spawn_cli (redirect, NULL, args);

  return test_wait_process (process, NULL, err);
}

/* @text is exactly one line: "imgxfer: ...\n" */
static void
assert_one_error_line (const char *text)
{
  g_assert_true (g_str_has_prefix (text, "imgxfer: "));
  g_assert_true (strchr (text, '\n') == text + strlen (text) - 1);
}

/* Every command that prints checks its stdout at the end: a full disk or
 * a closed stdout fails the command with one line, as sha256sum does. */
static void
test_stdout_write_error (Fixture *f, gconstpointer data)
{
  const char *redirect = data;
  g_autofree char *copy = g_build_filename (f->dir, "copy.raw", NULL);
  const char *const *commands[] = {
    (const char *const[]){ "checksum", f->raw, NULL },
    (const char *const[]){ "checksum", "--output=json", f->raw, NULL },
    (const char *const[]){ "checksum", "--list-algorithms", NULL },
    (const char *const[]){ "info", f->raw, NULL },
    (const char *const[]){ "info", "--output=json", f->raw, NULL },
    (const char *const[]){ "extents", f->raw, NULL },
    (const char *const[]){ "extents", "--output=json", f->raw, NULL },
    (const char *const[]){ "measure", "-O", "raw", f->raw, NULL },
    (const char *const[]){ "compare", f->raw, f->raw, NULL },
    (const char *const[]){ "convert", "--output=json", f->raw, copy, NULL },
    (const char *const[]){ "drivers", NULL },
    (const char *const[]){ "--version", NULL },
    (const char *const[]){ "--help", NULL },
    (const char *const[]){ "info", "--help", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *line = g_strjoinv (" ", (char **)commands[i]);
      g_autofree char *err = NULL;

      g_test_message ("imgxfer %s %s", line, redirect);
      g_assert_cmpint (run_cli (redirect, commands[i], &err), ==, 1);
      assert_one_error_line (err);
      g_assert_nonnull (strstr (err, "write error"));
    }

  /* The same commands succeed when stdout takes their output. */
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_assert_cmpint (run_cli (">/dev/null", commands[i], NULL), ==, 0);
}

/* A convert that writes nothing on stdout does not fail for it. */
static void
test_stdout_unused (Fixture *f, gconstpointer data)
{
  g_autofree char *copy = g_build_filename (f->dir, "copy.raw", NULL);
  const char *const args[] = { "convert", f->raw, copy, NULL };

  g_assert_cmpint (run_cli (">&-", args, NULL), ==, 0);
  test_assert_images_equal (f->raw, "raw", copy, "raw", FALSE);
}

/* SIGHUP (the terminal went away) and SIGTERM cancel a copy from a qcow2
 * image as Ctrl-C does: exit 4, a message naming both images, and the
 * qemu driver's private folder removed. */
static void
test_signal_cancels (Fixture *f, gconstpointer data)
{
  int signal_number = GPOINTER_TO_INT (data);
  g_autofree char *tmp = g_build_filename (f->dir, "tmp", NULL);
  g_autofree char *qcow2 = g_build_filename (f->dir, "src.qcow2", NULL);
  g_autofree char *copy = g_build_filename (f->dir, "copy.raw", NULL);
  const char *const create[]
      = { "convert", "-O", "qcow2", "pattern:1g", qcow2, NULL };
  const char *const args[] = { "convert",
                               "-p",
                               "--request-size=4k",
                               "--connections=1",
                               "-f",
                               "qcow2",
                               qcow2,
                               copy,
                               NULL };
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = NULL;

  g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0);
  g_assert_cmpint (run_cli (NULL, create, NULL), ==, 0);

  process = spawn_cli (NULL, tmp, args);
  test_wait_for_progress (process);
  g_subprocess_send_signal (process, signal_number);

  g_assert_cmpint (test_wait_process (process, NULL, &err), ==, 4);
  expected
      = g_strdup_printf ("imgxfer: copy of %s to %s cancelled", qcow2, copy);
  g_assert_nonnull (strstr (err, expected));
  g_assert_null (strstr (err, "100.00/100%"));

  dir = g_dir_open (tmp, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

/* Whether the process @pid runs imgxfer (past the shell's exec) and has
 * a handler for @signal_number: bit N-1 of the SigCgt mask that
 * /proc/PID/status shows in hexadecimal. */
static gboolean
catches_signal (const char *pid, int signal_number)
{
  g_autofree char *status_path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *status = NULL;
  const char *caught;

  if (!g_file_get_contents (status_path, &status, NULL, NULL)
      || !g_str_has_prefix (status, "Name:\timgxfer\n"))
    return FALSE;
  caught = strstr (status, "\nSigCgt:\t");
  g_assert_nonnull (caught);
  return (g_ascii_strtoull (caught + strlen ("\nSigCgt:\t"), NULL, 16)
          >> (signal_number - 1))
         & 1;
}

/* Waits, up to 60 s and while it runs, until the command @process
 * catches @signal_number: it watches its signals from then on, and one
 * sent earlier would kill it instead of cancelling its work. */
static void
wait_until_catches (GSubprocess *process, int signal_number)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  const char *pid = g_subprocess_get_identifier (process);

  g_assert_nonnull (pid);
  while (!catches_signal (pid, signal_number))
    {
      g_assert_nonnull (g_subprocess_get_identifier (process));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

/* A comparison interrupted names the images and exits 4. */
static void
test_signal_cancels_compare (Fixture *f, gconstpointer data)
{
  const char *const args[] = { "compare", "pattern:64g", "pattern:64g", NULL };
  g_autoptr (GSubprocess) process = spawn_cli (NULL, NULL, args);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* Comparing 64 GiB of data takes minutes: the signal comes while the
   * images are opened or compared. */
  wait_until_catches (process, SIGTERM);
  g_subprocess_send_signal (process, SIGTERM);

  g_assert_cmpint (test_wait_process (process, &out, &err), ==, 4);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==,
                   "imgxfer: comparison of pattern:64g and pattern:64g "
                   "cancelled\n");
}

/* qemu-img says why it failed on two lines; imgxfer on one. */
static void
test_error_one_line (Fixture *f, gconstpointer data)
{
  g_autofree char *out = g_build_filename (f->dir, "out.qcow2", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "no.qcow2", NULL);
  const char *const args[] = { "convert", "-O",    "qcow2", "-B", missing,
                               "-F",      "qcow2", f->raw,  out,  NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (NULL, args, &err), ==, 1);
  assert_one_error_line (err);
  g_assert_nonnull (strstr (err, missing));
}

static void
test_checksum_block_size_zero (void)
{
  const char *const args[] = { "checksum", "-b", "0", "x.raw", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (NULL, args, &err), ==, 2);
  g_assert_true (g_str_has_prefix (
      err, "imgxfer checksum: invalid block size \"0\" (accepted: "));
  g_assert_null (strstr (err, "18446744073709551615"));
}

/* The library's note that a server took fewer clients reaches the user
 * as a plain "imgxfer: " line, without GLib's decorations. */
static void
test_note_plain (Fixture *f, gconstpointer data)
{
  g_autofree char *socket = g_build_filename (f->dir, "nbd.sock", NULL);
  const char *const server_argv[]
      = { "nbdkit",  "--foreground", "--exit-with-parent",
          "--unix",  socket,         "--filter=limit",
          "pattern", "200M",         "limit=2",
          NULL };
  g_autoptr (TestServer) server = test_server_start (server_argv, socket);
  const char *const args[]
      = { "checksum", "--threads=4", test_server_get_uri (server), NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (">/dev/null", args, &err), ==, 0);
  g_assert_true (
      g_str_has_prefix (err, "imgxfer: Reading with 2 connections instead "
                             "of 4: "));
  assert_one_error_line (err);
}

/* /dev/zero has no size to copy: refused, and not called a pipe. */
static void
test_character_device_source (Fixture *f, gconstpointer data)
{
  g_autofree char *copy = g_build_filename (f->dir, "copy.raw", NULL);
  const char *const args[] = { "convert", "/dev/zero", copy, NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (run_cli (NULL, args, &err), ==, 1);
  assert_one_error_line (err);
  g_assert_nonnull (strstr (err, "/dev/zero: "));
  g_assert_nonnull (strstr (err, "character device"));
  g_assert_null (strstr (err, "pipe"));
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
}

/* After "--", an image may start with a dash, in every command and in
 * the qemu-img runs behind them. */
static void
test_dash_names (Fixture *f, gconstpointer data)
{
  g_autofree char *qcow2 = g_build_filename (f->dir, "-d.qcow2", NULL);
  g_autofree char *copy = g_build_filename (f->dir, "-copy.raw", NULL);
  g_autofree char *top = g_build_filename (f->dir, "-top.qcow2", NULL);
  const char *const io[] = { "write -P 0x33 64k 64k", NULL };
  g_autofree char *out = NULL;

  test_qemu_img_create (qcow2, "qcow2", "1M", NULL, NULL);
  test_qemu_io (qcow2, "qcow2", io);
  /* Relative names, as a user types them. */
  g_assert_cmpint (g_chdir (f->dir), ==, 0);

  {
    const char *const args[]
        = { "convert", "--", "-d.qcow2", "-copy.raw", NULL };
    g_assert_cmpint (run_cli (NULL, args, NULL), ==, 0);
    test_assert_images_equal (qcow2, "qcow2", copy, "raw", FALSE);
  }
  {
    const char *const args[] = { "info", "--", "-d.qcow2", NULL };
    g_autoptr (GSubprocess) process = spawn_cli (NULL, NULL, args);

    g_assert_cmpint (test_wait_process (process, &out, NULL), ==, 0);
    g_assert_nonnull (strstr (out, "file format: qcow2"));
  }
  {
    const char *const args[]
        = { "measure", "-O", "qcow2", "--", "-d.qcow2", NULL };
    g_assert_cmpint (run_cli (">/dev/null", args, NULL), ==, 0);
  }
  {
    const char *const args[]
        = { "convert", "-O", "qcow2",     "-B",         "-d.qcow2", "-F",
            "qcow2",   "--", "-copy.raw", "-top.qcow2", NULL };
    g_assert_cmpint (run_cli (NULL, args, NULL), ==, 0);
    test_assert_images_equal (top, "qcow2", copy, "raw", FALSE);
  }
  g_assert_cmpint (g_chdir ("/"), ==, 0);
}

static void
test_usage_errors (Fixture *f, gconstpointer data)
{
  const char *const *cases[] = {
    (const char *const[]){ "drivers", "extra", NULL },
    (const char *const[]){ "info", "", NULL },
    (const char *const[]){ "extents", "", NULL },
    (const char *const[]){ "measure", "-O", "qcow2", "", NULL },
    (const char *const[]){ "checksum", "", NULL },
    (const char *const[]){ "convert", "", f->raw, NULL },
    (const char *const[]){ "convert", f->raw, "", NULL },
    (const char *const[]){ "convert", "--request-size=1", f->raw, "x", NULL },
    (const char *const[]){ "convert", "--request-size=4095", f->raw, "x",
                           NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = g_strjoinv (" ", (char **)cases[i]);
      g_autofree char *err = NULL;
      g_autofree char *hint
          = g_strdup_printf ("Try 'imgxfer %s --help'.\n", cases[i][0]);

      g_test_message ("imgxfer %s", line);
      g_assert_cmpint (run_cli (NULL, cases[i], &err), ==, 2);
      g_assert_true (g_str_has_suffix (err, hint));
    }
}

/* The smallest request size accepted copies right. */
static void
test_request_size_smallest (Fixture *f, gconstpointer data)
{
  g_autofree char *copy = g_build_filename (f->dir, "copy.raw", NULL);
  const char *const args[]
      = { "convert", "--request-size=4k", f->raw, copy, NULL };

  g_assert_cmpint (run_cli (NULL, args, NULL), ==, 0);
  test_assert_images_equal (f->raw, "raw", copy, "raw", TRUE);
}

/* Each command's --help starts its usage line with "imgxfer COMMAND". */
static void
test_help_usage_line (void)
{
  const char *const commands[]
      = { "checksum", "compare", "convert", "drivers", "extents",
          "info",     "measure", "serve",   "ticket" };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const char *const args[] = { commands[i], "--help", NULL };
      g_autofree char *out = NULL;
      g_autofree char *expected
          = g_strdup_printf ("Usage:\n  imgxfer %s [OPTION", commands[i]);

      g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
      if (!g_str_has_prefix (out, expected))
        g_error ("imgxfer %s --help: %s", commands[i], out);
    }
}

/* The drivers table has its columns where its header has them. */
static void
test_drivers_table (void)
{
  const char *const args[] = { "drivers", NULL };
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  const char *opens, *from;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  lines = g_strsplit (out, "\n", -1);
  opens = strstr (lines[0], "Opens");
  from = strstr (lines[0], "From");
  g_assert_true (g_str_has_prefix (lines[0], "Driver "));
  g_assert_nonnull (opens);
  g_assert_nonnull (from);
  for (guint i = 1; lines[i] && *lines[i]; i++)
    {
      glong o = opens - lines[0], r = from - lines[0];

      g_test_message ("%s", lines[i]);
      g_assert_cmpint (strlen (lines[i]), >, r);
      g_assert_true (lines[i][o - 1] == ' ' && lines[i][o] != ' ');
      g_assert_true (lines[i][r - 1] == ' ' && lines[i][r] != ' ');
    }
  g_assert_nonnull (strstr (out, "\nqemu "));
}

#define add_test(path, data, func)                                             \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  add_test ("/cli/stdout/full", ">/dev/full", test_stdout_write_error);
  add_test ("/cli/stdout/closed", ">&-", test_stdout_write_error);
  add_test ("/cli/stdout/unused", NULL, test_stdout_unused);
  add_test ("/cli/signal/hup", GINT_TO_POINTER (SIGHUP), test_signal_cancels);
  add_test ("/cli/signal/term", GINT_TO_POINTER (SIGTERM), test_signal_cancels);
  add_test ("/cli/signal/compare", NULL, test_signal_cancels_compare);
  add_test ("/cli/errors/one-line", NULL, test_error_one_line);
  add_test ("/cli/errors/character-device-source", NULL,
            test_character_device_source);
  g_test_add_func ("/cli/errors/checksum-block-size-zero",
                   test_checksum_block_size_zero);
  add_test ("/cli/errors/note-plain", NULL, test_note_plain);
  add_test ("/cli/args/dash-names", NULL, test_dash_names);
  add_test ("/cli/args/usage-errors", NULL, test_usage_errors);
  add_test ("/cli/args/request-size-smallest", NULL,
            test_request_size_smallest);
  g_test_add_func ("/cli/help/usage-line", test_help_usage_line);
  g_test_add_func ("/cli/drivers/table", test_drivers_table);

  return g_test_run ();
}
