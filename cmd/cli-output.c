/* cli-output.c: the command's standard streams and its log lines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

void
cli_guard_standard_fds (void)
{
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
    {
      int opened;

      if (fcntl (fd, F_GETFD) >= 0 || errno != EBADF)
        continue;
      /* Opened read-only for stdout and stderr, and write-only for stdin:
       * the descriptor is taken, and using it still fails with EBADF, as
       * it would have closed. */
      opened = open ("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY);
      if (opened >= 0 && opened != fd)
        close (opened);
    }
}

/* -v: what the library notes at the info level is printed too. */
static gboolean verbose;

void
cli_output_set_verbose (gboolean value)
{
  verbose = value;
}

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
           gpointer data)
{
  const char *message = NULL;
  GLogLevelFlags shown = G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_WARNING
                         | (verbose ? G_LOG_LEVEL_INFO : 0);

  /* Programmer errors, and debug output as G_MESSAGES_DEBUG asks. */
  if (!(level & shown))
    return g_log_writer_default (level, fields, n_fields, data);

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  g_printerr ("imgxfer: %s%s\n", level & G_LOG_LEVEL_WARNING ? "warning: " : "",
              message);
  return G_LOG_WRITER_HANDLED;
}

/* The first error writing to stdout, kept for the message at exit: by
 * then a failed flush has dropped what it could not write, and trying
 * again says nothing. */
static int stdout_errno;
static gboolean stdout_closed;

static void
note_stdout_error (void)
{
  if (stdout_errno == 0)
    stdout_errno = errno ? errno : EIO;
}

/* g_print()'s own way, but for noting the error. */
static void
print_to_stdout (const char *string)
{
  if (fputs (string, stdout) == EOF || fflush (stdout) != 0)
    note_stdout_error ();
}

/* Flushes and closes stdout; FALSE when that or an earlier write failed. */
static gboolean
close_stdout (void)
{
  gboolean failed = ferror (stdout) || stdout_errno;

  stdout_closed = TRUE;
  if (fflush (stdout) != 0)
    {
      failed = TRUE;
      note_stdout_error ();
    }
  if (fclose (stdout) != 0)
    {
      failed = TRUE;
      note_stdout_error ();
    }
  if (failed)
    g_printerr ("imgxfer: write error on standard output: %s\n",
                g_strerror (stdout_errno ? stdout_errno : EIO));
  return !failed;
}

/* For an exit() elsewhere than from main(): GOption's --help. */
static void
close_stdout_at_exit (void)
{
  if (!stdout_closed && !close_stdout ())
    _exit (CLI_EXIT_FAILED);
}

void
cli_output_init (void)
{
  g_set_print_handler (print_to_stdout);
  g_log_set_writer_func (write_log, NULL, NULL);
  atexit (close_stdout_at_exit);
}

int
cli_close_stdout (int status)
{
  if (close_stdout ())
    return status;
  return status == CLI_EXIT_OK || status == CLI_EXIT_DIFFERENT ? CLI_EXIT_FAILED
                                                               : status;
}
