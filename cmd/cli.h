/* cli.h: what every imgxfer subcommand shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

/* Exit codes, the same for every subcommand. */
enum
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILED = 1,    /* I/O or image error; nothing reported complete */
  CLI_EXIT_USAGE = 2,     /* bad command line */
  CLI_EXIT_DIFFERENT = 3, /* compare: the images differ */
  CLI_EXIT_CANCELLED = 4, /* interrupted (Ctrl-C, SIGTERM) */
  CLI_EXIT_EXPIRED = 5,   /* the transfer ticket expired or was cancelled */
};

typedef struct
{
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} CliCommand;

/* Parses the options of a subcommand; on failure prints the error with a
 * hint and returns FALSE (the caller exits with CLI_EXIT_USAGE). */
gboolean cli_parse (GOptionContext *context, int *argc, char ***argv);

/* Prints "imgxfer: MESSAGE" on stderr and returns the exit code that fits
 * the error. */
int cli_fail (const GError *error);
/* After Ctrl-C (cli_cancellable() cancelled), prints "imgxfer: WHAT
 * cancelled", WHAT naming the images from @format, and returns
 * CLI_EXIT_CANCELLED, whatever the error it caused; otherwise the same as
 * cli_fail(). */
int cli_fail_or_cancelled (const GError *error, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/* Prints a usage error and returns CLI_EXIT_USAGE. */
int cli_usage_error (const char *command, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

/* Checks that no image named on the command line (@argv[1] on) is the
 * empty string; otherwise prints a usage error and returns FALSE. */
gboolean cli_check_image_names (const char *command, int argc, char **argv);

/* TRUE when @algorithm is NULL (the default) or one that
 * imgxfer_checksum_list_algorithms() lists; otherwise prints a usage error
 * naming the accepted ones and returns FALSE (exit with CLI_EXIT_USAGE). */
gboolean cli_check_checksum_algorithm (const char *command,
                                       const char *algorithm);

/* The TCP port given as @text to @option: 0 to 65535; otherwise prints
 * a usage error of @command and returns FALSE. @port is -1 when @text is
 * NULL (the option was not given). */
gboolean cli_parse_port (const char *command, const char *option,
                         const char *text, int *port);

/* A GCancellable cancelled by SIGINT, SIGTERM and SIGHUP. */
GCancellable *cli_cancellable (void);

/* Prints @node as pretty JSON on stdout. */
void cli_print_json (JsonNode *node);

/* Makes sure file descriptors 0, 1 and 2 are open, so that no image ever
 * gets one of them: output meant for a closed stdout must fail, not land
 * in an image. Called first thing in main(). */
void cli_guard_standard_fds (void);

/* Prints the library's messages and warnings as "imgxfer: MESSAGE"
 * lines, without GLib's program name, domain and time stamp, and watches
 * the writes to stdout for cli_close_stdout(), which also runs at an
 * exit() from elsewhere (GOption's --help). */
void cli_output_init (void);
/* Prints the library's info lines ("using the server's unix socket") on
 * stderr too, as "imgxfer: MESSAGE". */
void cli_output_set_verbose (gboolean verbose);

/* Flushes and closes stdout; when that or any earlier write to it failed
 * (a full disk, a closed stdout), prints an error and turns @status into
 * CLI_EXIT_FAILED unless it already says the command failed. */
int cli_close_stdout (int status);

G_END_DECLS
