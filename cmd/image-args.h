/* image-args.h: the options that name an image, shared by the commands
 * that read one (info, measure, extents, checksum, convert)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "cli.h"

G_BEGIN_DECLS

typedef struct
{
  char *format;      /* -f FMT */
  char *member;      /* --member NAME */
  char *output;      /* --output=human|json */
  char *bitmap;      /* --bitmap NAME (extents only) */
  gboolean shallow;  /* --shallow (extents only) */
  char *ca_file;     /* --cafile FILE: TLS (https:// images) */
  gboolean insecure; /* --insecure */
  char *proxy_url;   /* --proxy-url URL */
  char *retries_text; /* --retries N */
  guint retries;      /* its value, or the library's default */
  char *timeout_text; /* --timeout SECONDS */
  guint timeout;      /* its value, 0 when not given */
  gboolean verbose;  /* -v */
  gboolean allow_external_files; /* --allow-external-files */
} CliImageArgs;

/* Adds -f, --member, --output and the TLS options to @context, parses the
 * command line of
 * @command, which names one image, and checks the values; on a usage
 * error prints it and returns FALSE (exit with CLI_EXIT_USAGE). */
gboolean cli_image_args_parse (CliImageArgs *args, GOptionContext *context,
                               const char *command, int *argc, char ***argv);

/* Adds -f, --member, --output and the TLS options to @context, for a command
 * that checks its arguments itself with cli_image_args_check(). */
void cli_image_args_add_entries (CliImageArgs *args, GOptionContext *context);

/* Adds --cafile, --insecure, --proxy-url, --retries, --timeout (images
 * behind servers) and -v to @group. */
void cli_image_args_add_remote_entries (CliImageArgs *args,
                                        GOptionGroup *group);

/* Checks the values given; on a usage error prints it and returns FALSE
 * (exit with CLI_EXIT_USAGE). */
gboolean cli_image_args_check (CliImageArgs *args, const char *command);

/* TRUE for --output=json. */
gboolean cli_image_args_json (CliImageArgs *args);

/* Read-only open options with the format, member, bitmap, shallow flag,
 * TLS options and retries given. */
ImgxferOpenOptions *cli_image_args_to_options (CliImageArgs *args);

void cli_image_args_clear (CliImageArgs *args);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliImageArgs, cli_image_args_clear)

G_END_DECLS
