/* cli.c: what every imgxfer subcommand shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* GOption leaves the "--" that ends the options among the arguments
 * ("convert -- -a.qcow2 b" gives "-a.qcow2", "--", "b" or "--",
 * "-a.qcow2", "b"): the first one left is that separator. */
static void
drop_separator (int *argc, char **argv)
{
  for (int i = 1; i < *argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        memmove (&argv[i], &argv[i + 1], (*argc - i) * sizeof *argv);
        (*argc)--;
        return;
      }
}

gboolean
cli_parse (GOptionContext *context, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  if (g_option_context_parse (context, argc, argv, &error))
    {
      drop_separator (argc, *argv);
      return TRUE;
    }

  g_printerr ("imgxfer: %s\nTry 'imgxfer %s --help'.\n", error->message,
              (*argv)[0]);
  return FALSE;
}

/* "imgxfer: MESSAGE" on one line, whatever the message holds. */
static void
print_error (const char *message)
{
  g_auto (GStrv) lines = g_strsplit (message, "\n", -1);
  g_autoptr (GString) line = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++)
    if (*g_strstrip (lines[i]))
      g_string_append_printf (line, "%s%s", line->len ? "; " : "", lines[i]);
  g_printerr ("imgxfer: %s\n", line->str);
}

int
cli_fail (const GError *error)
{
  print_error (error->message);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return CLI_EXIT_CANCELLED;
  if (g_error_matches (error, IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED))
    return CLI_EXIT_EXPIRED;
  if (g_error_matches (error, IMGXFER_ERROR, IMGXFER_ERROR_DIFFERENT))
    return CLI_EXIT_DIFFERENT;
  return CLI_EXIT_FAILED;
}

int
cli_fail_or_cancelled (const GError *error, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  if (!g_cancellable_is_cancelled (cli_cancellable ()))
    return cli_fail (error);

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("imgxfer: %s cancelled\n", what);
  return CLI_EXIT_CANCELLED;
}

int
cli_usage_error (const char *command, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("imgxfer %s: %s\nTry 'imgxfer %s --help'.\n", command, message,
              command);
  return CLI_EXIT_USAGE;
}

gboolean
cli_check_image_names (const char *command, int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '\0')
      {
        cli_usage_error (command,
                         "argument %d is empty: an image needs a "
                         "path or a URL",
                         i);
        return FALSE;
      }
  return TRUE;
}

gboolean
cli_check_checksum_algorithm (const char *command, const char *algorithm)
{
  const char *const *names = imgxfer_checksum_list_algorithms ();
  g_autofree char *accepted = NULL;

  if (algorithm == NULL || g_strv_contains (names, algorithm))
    return TRUE;

  accepted = g_strjoinv (", ", (char **)names);
  cli_usage_error (command, "unknown checksum algorithm \"%s\" (accepted: "
                            "%s)", algorithm, accepted);
  return FALSE;
}

gboolean
cli_parse_port (const char *command, const char *option, const char *text,
                int *port)
{
  guint64 value;

  *port = -1;
  if (text == NULL)
    return TRUE;
  /* g_ascii_string_to_unsigned() takes no sign, so "-5" is refused too. */
  if (!g_ascii_string_to_unsigned (text, 10, 0, 65535, &value, NULL))
    {
      cli_usage_error (command, "%s %s: not a port (0 to 65535)", option, text);
      return FALSE;
    }
  *port = value;
  return TRUE;
}

static gboolean
on_signal (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_CONTINUE;
}

/* The signals are watched on a thread of their own, so that a command
 * waiting for workers without a main loop still sees them. */
static gpointer
signal_thread (gpointer data)
{
  g_main_loop_run (data);
  return NULL;
}

/* Creating a source installs its handler, so the sources are made here,
 * before cli_cancellable() returns: a signal that comes before the thread
 * first runs is then held for it instead of killing the process. */
static GMainLoop *
watch_signals (GCancellable *cancellable)
{
  GMainContext *context = g_main_context_new ();
  int signals[] = { SIGINT, SIGTERM, SIGHUP };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      GSource *source = g_unix_signal_source_new (signals[i]);

      g_source_set_callback (source, on_signal, cancellable, NULL);
      g_source_attach (source, context);
      g_source_unref (source);
    }
  return g_main_loop_new (context, FALSE);
}

GCancellable *
cli_cancellable (void)
{
  static GCancellable *cancellable;

  if (g_once_init_enter (&cancellable))
    {
      GCancellable *c = g_cancellable_new ();

      /* g_unix_signal_source_new() blocks nothing by itself; creating the
       * sources before the thread starts makes sure no signal is lost. */
      g_thread_unref (g_thread_new ("signals", signal_thread,
                                    watch_signals (c)));
      g_once_init_leave (&cancellable, c);
    }
  return cancellable;
}

void
cli_print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 4);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}
