/* cmd-serve.c: imgxfer serve
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "serve-server.h"

typedef struct
{
  char *config;
  char *host;
  char *port_text;
  int port;
  char *cert;
  char *key;
  char *ca;
  char *control_socket;
  char *control_port_text;
  int control_port;
  char *local_socket;
  gboolean no_local;
  gboolean foreground;
  gboolean verbose;
} Args;

static void
args_clear (Args *args)
{
  g_free (args->config);
  g_free (args->host);
  g_free (args->port_text);
  g_free (args->control_port_text);
  g_free (args->cert);
  g_free (args->key);
  g_free (args->ca);
  g_free (args->control_socket);
  g_free (args->local_socket);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Args, args_clear)

static void
take (char **field, char **value)
{
  if (*value == NULL)
    return;
  g_free (*field);
  *field = g_steal_pointer (value);
}

/* Options override the file. */
static void
apply_args (ServeConfig *config, Args *args)
{
  take (&config->host, &args->host);
  take (&config->cert_file, &args->cert);
  take (&config->key_file, &args->key);
  take (&config->ca_file, &args->ca);
  take (&config->local_socket, &args->local_socket);
  if (args->port >= 0)
    config->port = args->port;
  if (args->control_port >= 0)
    config->control_port = args->control_port;
  if (args->control_socket)
    {
      take (&config->control_socket, &args->control_socket);
      config->control_port = -1;
    }
  if (args->no_local)
    config->local_enable = FALSE;
  if (args->verbose)
    config->verbose = TRUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static int
check_args (Args *args, int argc, char **argv)
{
  if (argc > 1)
    return cli_usage_error ("serve", "unexpected argument \"%s\"", argv[1]);
  if (!cli_parse_port ("serve", "--port", args->port_text, &args->port)
      || !cli_parse_port ("serve", "--control-port", args->control_port_text,
                          &args->control_port))
    return CLI_EXIT_USAGE;
  if (args->control_socket && args->control_port >= 0)
    return cli_usage_error ("serve", "--control-socket and --control-port "
                                     "exclude each other");
  if (args->local_socket && args->no_local)
    return cli_usage_error ("serve", "--local-socket and --no-local exclude "
                                     "each other");
  return CLI_EXIT_OK;
}

static void
new_session (gpointer data)
{
  setsid ();
}

/* What the daemon wrote to @log from @offset on, for a start that failed. */
static void
print_log_since (const char *log, goffset offset)
{
  g_autofree char *contents = NULL;
  gsize length;

  if (g_file_get_contents (log, &contents, &length, NULL)
      && (gsize)offset < length)
    g_printerr ("%s", contents + offset);
}

/* Without --foreground the daemon runs as a child of its own, in a new
 * session, its stderr appended to serve.log in the state directory; this
 * process waits for its "listening on" line, so that a script may use the
 * daemon as soon as this returns. */
static int
run_in_background (ServeConfig *config, char **argv)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) child_argv = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *log
      = g_build_filename (config->state_dir, "serve.log", NULL);
  GStatBuf st;
  goffset offset;

  if (g_mkdir_with_parents (config->state_dir, 0700) < 0)
    {
      g_printerr ("imgxfer: %s: %s\n", config->state_dir, g_strerror (errno));
      return CLI_EXIT_FAILED;
    }
  offset = g_stat (log, &st) == 0 ? st.st_size : 0;
  g_strv_builder_add_many (builder, self ? self : "imgxfer", "serve",
                           "--foreground", NULL);
  g_strv_builder_addv (builder, (const char **)argv + 1);
  child_argv = g_strv_builder_end (builder);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_child_setup (launcher, new_session, NULL, NULL);
  child = g_subprocess_launcher_spawnv (
      launcher, (const char *const *)child_argv, &error);
  if (child == NULL)
    return cli_fail (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  for (;;)
    {
      g_autofree char *line
          = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, NULL);

      if (line == NULL)
        {
          print_log_since (log, offset);
          return CLI_EXIT_FAILED;
        }
      g_print ("%s\n", line);
      if (g_str_has_prefix (line, "listening on "))
        return CLI_EXIT_OK;
    }
}

static void
print_ready (ServeServer *server)
{
  ServeConfig *config = serve_server_get_config (server);
  g_autofree char *url = serve_server_get_remote_url (server);

  if (serve_server_get_generated_cert (server))
    g_printerr ("imgxfer: using the self-signed certificate %s\n",
                serve_server_get_generated_cert (server));
  if (config->control_port >= 0)
    g_print ("control on http://127.0.0.1:%u\n",
             serve_server_get_control_port (server));
  else
    g_print ("control on %s\n", config->control_socket);
  if (config->local_enable)
    g_print ("local on %s\n", config->local_socket);
  /* Last: scripts and tests wait for this line. */
  g_print ("listening on %s\n", url);
  fflush (stdout);
}

static int
run (int argc, char **argv)
{
  g_auto (Args) args = { 0 };
  GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &args.config,
      "Read the configuration from FILE", "FILE" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &args.host,
      "Listen on ADDR (default: every address)", "ADDR" },
    { "port", 0, 0, G_OPTION_ARG_STRING, &args.port_text,
      "HTTPS port (default 54322; 0 picks a free one)", "N" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &args.cert, "TLS certificate (PEM)",
      "FILE" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &args.key, "TLS key (PEM)", "FILE" },
    { "ca", 0, 0, G_OPTION_ARG_FILENAME, &args.ca,
      "CA certificates sent after the certificate (PEM)", "FILE" },
    { "control-socket", 0, 0, G_OPTION_ARG_FILENAME, &args.control_socket,
      "Control service on the unix socket PATH", "PATH" },
    { "control-port", 0, 0, G_OPTION_ARG_STRING, &args.control_port_text,
      "Control service on loopback TCP port N", "N" },
    { "local-socket", 0, 0, G_OPTION_ARG_FILENAME, &args.local_socket,
      "Local service on the unix socket PATH", "PATH" },
    { "no-local", 0, 0, G_OPTION_ARG_NONE, &args.no_local, "No local service",
      NULL },
    { "foreground", 0, 0, G_OPTION_ARG_NONE, &args.foreground,
      "Stay in the foreground", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &args.verbose,
      "Log one line per request", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("- serve images over HTTPS to imageio clients");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (ServeConfig) config = serve_config_new ();
  g_auto (GStrv) original = g_strdupv (argv);
  ServeServer *server;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if ((status = check_args (&args, argc, argv)) != CLI_EXIT_OK)
    return status;
  if (args.config && !serve_config_load (config, args.config, &error))
    return cli_fail (error);
  apply_args (config, &args);
  serve_config_finish (config);
  if (!args.foreground)
    return run_in_background (config, original);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  server = serve_server_new (g_steal_pointer (&config));
  if (!serve_server_start (server, &error))
    {
      serve_server_stop (server);
      serve_server_free (server);
      return cli_fail (error);
    }
  print_ready (server);
  g_main_loop_run (loop);
  serve_server_stop (server);
  serve_server_free (server);
  return CLI_EXIT_OK;
}

const CliCommand cli_command_serve = {
  "serve",
  "serves images to imageio clients over HTTPS, with tickets",
  run,
};
