/* cmd-ticket.c: imgxfer ticket add|show|extend|del
 *
 * A client of the control service of `imgxfer serve` (or of an imageio
 * daemon's): it prints the ticket as the daemon reports it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <libsoup/soup.h>

#include "cli.h"
#include "commands.h"
#include "serve-config.h"

typedef struct
{
  char *control_socket;
  char *control_port_text;
  int control_port;
  char *id;
  char *url;
  char *size;
  char *ops;
  int timeout;
  int inactivity_timeout;
  gboolean sparse;
  gboolean dirty;
  char *format;
  char *bitmap;
  char *transfer_id;
  char *filename;
} Args;

static void
args_clear (Args *args)
{
  g_free (args->control_socket);
  g_free (args->control_port_text);
  g_free (args->id);
  g_free (args->url);
  g_free (args->size);
  g_free (args->ops);
  g_free (args->format);
  g_free (args->bitmap);
  g_free (args->transfer_id);
  g_free (args->filename);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Args, args_clear)

static SoupSession *
control_session (Args *args, char **base)
{
  g_autoptr (GSocketConnectable) address = NULL;
  g_autoptr (ServeConfig) config = serve_config_new ();

  if (args->control_port >= 0)
    {
      *base = g_strdup_printf ("http://127.0.0.1:%d", args->control_port);
      return soup_session_new ();
    }
  /* Without --control-socket, the socket a default `imgxfer serve` makes. */
  config->control_socket = g_strdup (args->control_socket);
  serve_config_finish (config);
  address = G_SOCKET_CONNECTABLE (
      g_unix_socket_address_new (config->control_socket));
  *base = g_strdup ("http://localhost");
  return soup_session_new_with_options ("remote-connectable", address, NULL);
}

/* Sends one request; on an HTTP error, fails with the daemon's message. */
static GBytes *
send_request (Args *args, const char *method, const char *id, const char *body,
              GError **error)
{
  g_autofree char *base = NULL;
  g_autoptr (SoupSession) session = control_session (args, &base);
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s/tickets/%s", base, escaped);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) local = NULL;

  if (body)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  reply = soup_session_send_and_read (session, msg, NULL, &local);
  if (reply == NULL)
    {
      g_set_error (error, local->domain, local->code, "control service: %s",
                   local->message);
      return NULL;
    }
  if (soup_message_get_status (msg) >= 300)
    {
      g_autofree char *text = g_strndup (g_bytes_get_data (reply, NULL),
                                         g_bytes_get_size (reply));
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_FAILED,
                   "control service: %u %s", soup_message_get_status (msg),
                   g_strstrip (text));
      return NULL;
    }
  return g_steal_pointer (&reply);
}

static int
show (Args *args, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) reply = send_request (args, "GET", id, NULL, &error);
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (reply == NULL)
    return cli_fail (error);
  if (!json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL),
                                   g_bytes_get_size (reply), &error))
    return cli_fail (error);
  cli_print_json (json_parser_get_root (parser));
  return CLI_EXIT_OK;
}

static char *
ticket_json (Args *args, GError **error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_auto (GStrv) ops = g_strsplit (args->ops ? args->ops : "read", ",", -1);
  guint64 size;

  if (!imgxfer_size_parse (args->size, &size, error))
    return NULL;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "uuid");
  json_builder_add_string_value (builder, args->id);
  json_builder_set_member_name (builder, "url");
  json_builder_add_string_value (builder, args->url);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, size);
  json_builder_set_member_name (builder, "timeout");
  json_builder_add_int_value (builder, args->timeout);
  json_builder_set_member_name (builder, "ops");
  json_builder_begin_array (builder);
  for (char **op = ops; *op; op++)
    json_builder_add_string_value (builder, *op);
  json_builder_end_array (builder);
  if (args->inactivity_timeout >= 0)
    {
      json_builder_set_member_name (builder, "inactivity_timeout");
      json_builder_add_int_value (builder, args->inactivity_timeout);
    }
  json_builder_set_member_name (builder, "sparse");
  json_builder_add_boolean_value (builder, args->sparse);
  json_builder_set_member_name (builder, "dirty");
  json_builder_add_boolean_value (builder, args->dirty);
  const struct
  {
    const char *key;
    const char *value;
  } strings[] = {
    { "format", args->format },
    { "bitmap", args->bitmap },
    { "transfer_id", args->transfer_id },
    { "filename", args->filename },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i].value)
      {
        json_builder_set_member_name (builder, strings[i].key);
        json_builder_add_string_value (builder, strings[i].value);
      }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/* The id of a ticket given as a JSON file. */
static char *
file_ticket (const char *path, char **id, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;
  const char *uuid;

  if (!json_parser_load_from_file (parser, path, error))
    return NULL;
  root = json_parser_get_root (parser);
  object = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root)
                                                 : NULL;
  uuid = object
             ? json_object_get_string_member_with_default (object, "uuid", NULL)
             : NULL;
  if (uuid == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: not a ticket: no \"uuid\"", path);
      return NULL;
    }
  *id = g_strdup (uuid);
  return json_to_string (root, FALSE);
}

static int
add (Args *args, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *id = NULL;

  if (argc == 3)
    body = file_ticket (argv[2], &id, &error);
  else if (argc == 2 && args->id && args->url && args->size)
    {
      id = g_strdup (args->id);
      body = ticket_json (args, &error);
    }
  else
    return cli_usage_error ("ticket", "add needs --id, --url and --size, or "
                                      "a JSON file");
  if (body == NULL)
    return cli_fail (error);
  reply = send_request (args, "PUT", id, body, &error);
  if (reply == NULL)
    return cli_fail (error);
  return show (args, id);
}

static int
extend (Args *args, const char *id, const char *seconds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *body = NULL;
  guint64 timeout;

  if (!g_ascii_string_to_unsigned (seconds, 10, 0, G_MAXUINT32, &timeout,
                                   &error))
    return cli_usage_error ("ticket", "extend: %s", error->message);
  body = g_strdup_printf ("{\"timeout\": %" G_GUINT64_FORMAT "}", timeout);
  reply = send_request (args, "PATCH", id, body, &error);
  if (reply == NULL)
    return cli_fail (error);
  return show (args, id);
}

static int
del (Args *args, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) reply = send_request (args, "DELETE", id, NULL, &error);

  return reply ? CLI_EXIT_OK : cli_fail (error);
}

static int
run (int argc, char **argv)
{
  g_auto (Args) args = { .timeout = 300, .inactivity_timeout = -1 };
  GOptionEntry entries[] = {
    { "control-socket", 0, 0, G_OPTION_ARG_FILENAME, &args.control_socket,
      "The daemon's control socket", "PATH" },
    { "control-port", 0, 0, G_OPTION_ARG_STRING, &args.control_port_text,
      "The daemon's control port on loopback", "N" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &args.id, "add: the ticket id", "ID" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &args.url, "add: the image", "URL" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &args.size, "add: the image size",
      "SIZE" },
    { "ops", 0, 0, G_OPTION_ARG_STRING, &args.ops,
      "add: read, write or read,write (default read)", "OPS" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &args.timeout,
      "add: seconds until the ticket expires (default 300)", "S" },
    { "inactivity-timeout", 0, 0, G_OPTION_ARG_INT, &args.inactivity_timeout,
      "add: seconds an idle connection stays open", "S" },
    { "sparse", 0, 0, G_OPTION_ARG_NONE, &args.sparse,
      "add: zeroes may leave holes", NULL },
    { "dirty", 0, 0, G_OPTION_ARG_NONE, &args.dirty,
      "add: dirty extents are served", NULL },
    { "format", 0, 0, G_OPTION_ARG_STRING, &args.format,
      "add: the image format (default raw, never probed)", "FMT" },
    { "bitmap", 0, 0, G_OPTION_ARG_STRING, &args.bitmap,
      "add: the dirty bitmap", "NAME" },
    { "transfer-id", 0, 0, G_OPTION_ARG_STRING, &args.transfer_id,
      "add: the transfer id", "ID" },
    { "filename", 0, 0, G_OPTION_ARG_STRING, &args.filename,
      "add: the name a download is given", "NAME" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "add [FILE.json] | show ID | extend ID SECONDS | del ID - "
      "manage the tickets of imgxfer serve");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_parse (context, &argc, &argv)
      || !cli_parse_port ("ticket", "--control-port", args.control_port_text,
                          &args.control_port))
    return CLI_EXIT_USAGE;
  if (args.control_socket && args.control_port >= 0)
    return cli_usage_error ("ticket", "--control-socket and --control-port "
                                      "exclude each other");
  if (argc >= 2 && g_str_equal (argv[1], "add"))
    return add (&args, argc, argv);
  if (argc == 3 && g_str_equal (argv[1], "show"))
    return show (&args, argv[2]);
  if (argc == 4 && g_str_equal (argv[1], "extend"))
    return extend (&args, argv[2], argv[3]);
  if (argc == 3 && g_str_equal (argv[1], "del"))
    return del (&args, argv[2]);
  return cli_usage_error ("ticket", "expected add, show ID, extend ID "
                                    "SECONDS or del ID");
}

const CliCommand cli_command_ticket = {
  "ticket",
  "adds, shows, extends and deletes tickets of imgxfer serve",
  run,
};
