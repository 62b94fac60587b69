/* image-args.c: the options that name an image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "image-args.h"

/* The most --retries takes: beyond it, a copy would wait for hours. */
#define MAX_RETRIES 100

#define N_REMOTE_ENTRIES 7

/* --cafile, --insecure, --proxy-url, --retries and --timeout, for images
 * behind servers. */
static void
remote_entries (CliImageArgs *args, GOptionEntry entries[N_REMOTE_ENTRIES])
{
  const GOptionEntry remote[] = {
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &args->ca_file,
      "CA certificates to trust for TLS", "FILE" },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &args->insecure,
      "Do not verify TLS certificates", NULL },
    { "proxy-url", 0, 0, G_OPTION_ARG_STRING, &args->proxy_url,
      "URL to use when the image's own cannot be reached", "URL" },
    { "retries", 0, 0, G_OPTION_ARG_STRING, &args->retries_text,
      "Send a request to a server again up to N times when it failed in a "
      "way that may pass (default 3; 0: never)",
      "N" },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &args->timeout_text,
      "Fail when connecting or a request makes no progress for this long "
      "(default 60)",
      "SECONDS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &args->verbose,
      "Say how images are reached (an imageio server's unix socket)",
      NULL },
    { NULL },
  };

  memcpy (entries, remote, sizeof remote);
}

void
cli_image_args_add_entries (CliImageArgs *args, GOptionContext *context)
{
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &args->format,
      "The image's format (default: probed)", "FMT" },
    { "member", 0, 0, G_OPTION_ARG_FILENAME, &args->member,
      "The image is this member of the tar/OVA archive IMAGE", "NAME" },
    { "output", 0, 0, G_OPTION_ARG_STRING, &args->output,
      "Output format: human (default) or json", "FORMAT" },
    { "allow-external-files", 0, 0, G_OPTION_ARG_NONE,
      &args->allow_external_files,
      "Let an image in an archive read host files it names", NULL },
    { NULL },
  };
  GOptionEntry remote[N_REMOTE_ENTRIES];

  g_option_context_add_main_entries (context, entries, NULL);
  remote_entries (args, remote);
  g_option_context_add_main_entries (context, remote, NULL);
}

void
cli_image_args_add_remote_entries (CliImageArgs *args, GOptionGroup *group)
{
  GOptionEntry remote[N_REMOTE_ENTRIES];

  remote_entries (args, remote);
  g_option_group_add_entries (group, remote);
}

static gboolean
check_retries (CliImageArgs *args, const char *command)
{
  guint64 value;

  args->retries = IMGXFER_DEFAULT_RETRIES;
  if (args->retries_text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (args->retries_text, 10, 0, MAX_RETRIES,
                                   &value, NULL))
    {
      cli_usage_error (command,
                       "--retries must be a number from 0 to %d, not \"%s\"",
                       MAX_RETRIES, args->retries_text);
      return FALSE;
    }
  args->retries = value;
  return TRUE;
}

/* Whole seconds, at least one: a timeout of 0 would fail every request. */
static gboolean
check_timeout (CliImageArgs *args, const char *command)
{
  guint64 seconds;

  if (args->timeout_text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (args->timeout_text, 10, 1, G_MAXUINT,
                                   &seconds, NULL))
    {
      cli_usage_error (command,
                       "--timeout must be a number of seconds, at least 1, "
                       "not \"%s\"",
                       args->timeout_text);
      return FALSE;
    }
  args->timeout = seconds;
  return TRUE;
}

gboolean
cli_image_args_check (CliImageArgs *args, const char *command)
{
  if (args->output != NULL && !g_str_equal (args->output, "human")
      && !g_str_equal (args->output, "json"))
    {
      cli_usage_error (command, "--output must be human or json, not \"%s\"",
                       args->output);
      return FALSE;
    }
  if (args->format != NULL && args->format[0] == '\0')
    {
      cli_usage_error (command, "-f needs a format name");
      return FALSE;
    }
  if (args->member != NULL && args->member[0] == '\0')
    {
      cli_usage_error (command, "--member needs a member name");
      return FALSE;
    }
  if (args->bitmap != NULL && args->bitmap[0] == '\0')
    {
      cli_usage_error (command, "--bitmap needs a bitmap name");
      return FALSE;
    }
  return check_retries (args, command) && check_timeout (args, command);
}

gboolean
cli_image_args_parse (CliImageArgs *args, GOptionContext *context,
                      const char *command, int *argc, char ***argv)
{
  cli_image_args_add_entries (args, context);
  if (!cli_parse (context, argc, argv) || !cli_image_args_check (args, command))
    return FALSE;
  if (*argc != 2)
    {
      cli_usage_error (command, "expected one image, got %d", *argc - 1);
      return FALSE;
    }
  return cli_check_image_names (command, *argc, *argv);
}

gboolean
cli_image_args_json (CliImageArgs *args)
{
  return args->output != NULL && g_str_equal (args->output, "json");
}

ImgxferOpenOptions *
cli_image_args_to_options (CliImageArgs *args)
{
  cli_output_set_verbose (args->verbose);
  ImgxferOpenOptions *options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, args->format);
  imgxfer_open_options_set_member (options, args->member);
  imgxfer_open_options_set_bitmap (options, args->bitmap);
  imgxfer_open_options_set_shallow (options, args->shallow);
  imgxfer_open_options_set_ca_file (options, args->ca_file);
  imgxfer_open_options_set_insecure (options, args->insecure);
  imgxfer_open_options_set_proxy_url (options, args->proxy_url);
  imgxfer_open_options_set_retries (options, args->retries);
  imgxfer_open_options_set_timeout (options, args->timeout);
  imgxfer_open_options_set_allow_external_files (options,
                                                 args->allow_external_files);
  return options;
}

void
cli_image_args_clear (CliImageArgs *args)
{
  g_clear_pointer (&args->format, g_free);
  g_clear_pointer (&args->member, g_free);
  g_clear_pointer (&args->output, g_free);
  g_clear_pointer (&args->bitmap, g_free);
  g_clear_pointer (&args->ca_file, g_free);
  g_clear_pointer (&args->proxy_url, g_free);
  g_clear_pointer (&args->retries_text, g_free);
  g_clear_pointer (&args->timeout_text, g_free);
}
