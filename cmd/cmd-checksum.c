/* cmd-checksum.c: imgxfer checksum
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image-args.h"

typedef struct
{
  char *algorithm;
  char *block_size;
  CliImageArgs image; /* -f, --member, --output */
  int threads;
  gboolean list;
} Args;

static void
args_clear (Args *args)
{
  g_free (args->algorithm);
  g_free (args->block_size);
  cli_image_args_clear (&args->image);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Args, args_clear)

static int
list_algorithms (gboolean json)
{
  const char *const *names = imgxfer_checksum_list_algorithms ();

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "algorithms");
      json_builder_begin_array (builder);
      for (; *names; names++)
        json_builder_add_string_value (builder, *names);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      cli_print_json (root);
    }
  else
    for (; *names; names++)
      g_print ("%s\n", *names);
  return CLI_EXIT_OK;
}

static void
print_json (const char *algorithm, gsize block_size, const char *checksum)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "algorithm");
  json_builder_add_string_value (builder, algorithm);
  json_builder_set_member_name (builder, "block_size");
  json_builder_add_int_value (builder, block_size);
  json_builder_set_member_name (builder, "checksum");
  json_builder_add_string_value (builder, checksum);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  cli_print_json (root);
}

/* Checks what can be checked before opening anything, so that a typo is
 * a usage error, not a failure. */
static int
check_args (Args *args, int argc, char **argv, gsize *block_size)
{
  g_autoptr (GError) error = NULL;

  if (!cli_image_args_check (&args->image, "checksum"))
    return CLI_EXIT_USAGE;
  if (args->list)
    return argc == 1 ? CLI_EXIT_OK
                     : cli_usage_error ("checksum",
                                        "--list-algorithms takes no image");
  if (argc != 2)
    return cli_usage_error ("checksum", "expected one image");
  if (!cli_check_image_names ("checksum", argc, argv))
    return CLI_EXIT_USAGE;
  if (!cli_check_checksum_algorithm ("checksum", args->algorithm))
    return CLI_EXIT_USAGE;
  if (args->threads < 0)
    return cli_usage_error ("checksum", "--threads must not be negative");

  *block_size = IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE;
  if (args->block_size)
    {
      g_autoptr (ImgxferChecksum) probe = NULL;
      guint64 size;

      if (!imgxfer_size_parse (args->block_size, &size, &error))
        return cli_usage_error ("checksum", "%s", error->message);
      /* imgxfer_checksum_new() is the one place that knows the limits
       * (where 0 would mean the default). */
      if (size == 0 || size > G_MAXSIZE)
        size = G_MAXSIZE;
      probe = imgxfer_checksum_new (NULL, size, 0, &error);
      if (probe == NULL)
        {
          /* The limits, which the library's message gives in parentheses
           * after the number it was given (not 0, for which we ask it). */
          const char *limits = strchr (error->message, '(');

          return cli_usage_error ("checksum", "invalid block size \"%s\" %s",
                                  args->block_size,
                                  limits ? limits : error->message);
        }
      *block_size = size;
    }
  return CLI_EXIT_OK;
}

static int
run (int argc, char **argv)
{
  g_auto (Args) args = { 0 };
  const GOptionEntry entries[] = {
    { "algorithm", 'a', 0, G_OPTION_ARG_STRING, &args.algorithm,
      "Digest algorithm (default blake2b)", "ALG" },
    { "block-size", 'b', 0, G_OPTION_ARG_STRING, &args.block_size,
      "Block size, 1M to 16M (default 4M)", "SIZE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &args.threads,
      "Hashing threads (default: one per core)", "N" },
    { "list-algorithms", 0, 0, G_OPTION_ARG_NONE, &args.list,
      "List the accepted algorithms", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("IMAGE");
  g_autoptr (ImgxferOpenOptions) options = NULL;
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *checksum = NULL;
  const char *algorithm;
  gboolean json;
  gsize block_size = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  cli_image_args_add_entries (&args.image, context);
  g_option_context_set_summary (
      context, "Print the blkhash checksum of an image's guest-visible data, "
               "as ovirt-imageio computes it: the same for a raw file, a "
               "qcow2 image or an OVA member with the same content.");
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;

  status = check_args (&args, argc, argv, &block_size);
  if (status != CLI_EXIT_OK)
    return status;
  json = cli_image_args_json (&args.image);
  if (args.list)
    return list_algorithms (json);

  algorithm = args.algorithm ? args.algorithm
                             : IMGXFER_CHECKSUM_DEFAULT_ALGORITHM;
  options = cli_image_args_to_options (&args.image);
  /* A driver that starts a server sizes it for the threads. */
  imgxfer_open_options_set_connections (
      options, args.threads ? (guint)args.threads : g_get_num_processors ());

  source = imgxfer_open (argv[1], options, cli_cancellable (), &error);
  if (source == NULL)
    return cli_fail (error);

  checksum = imgxfer_checksum_compute (source, algorithm, block_size,
                                       args.threads, cli_cancellable (),
                                       &error);
  /* Printed only when the image was read to the end well. */
  if (checksum == NULL
      || !imgxfer_backend_close (source, IMGXFER_CLOSE_NONE,
                                 cli_cancellable (), &error))
    return cli_fail (error);

  if (json)
    print_json (algorithm, block_size, checksum);
  else
    g_print ("%s  %s\n", checksum, argv[1]);
  return CLI_EXIT_OK;
}

const CliCommand cli_command_checksum = {
  "checksum", "print the blkhash checksum of an image", run,
};
