/* cmd-measure.c: imgxfer measure
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "cli.h"
#include "commands.h"
#include "image-args.h"

/* `qemu-img measure` prints these lines, in this order. */
static void
print_human (JsonObject *measure)
{
  static const struct
  {
    const char *key;
    const char *label;
  } lines[] = {
    { "required", "required size" },
    { "fully-allocated", "fully allocated size" },
    { "bitmaps", "bitmaps size" },
    { "member-offset", "member offset" },
    { "member-size", "member size" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    if (json_object_has_member (measure, lines[i].key))
      g_print ("%s: %" G_GINT64_FORMAT "\n", lines[i].label,
               json_object_get_int_member (measure, lines[i].key));
}

static int
run (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("IMAGE");
  g_auto (CliImageArgs) args = { 0 };
  g_autofree char *target_format = NULL;
  g_autoptr (ImgxferOpenOptions) options = NULL;
  g_autoptr (JsonNode) measure = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "target-format", 'O', 0, G_OPTION_ARG_STRING, &target_format,
      "The format to convert to (required)", "FMT" },
    { NULL },
  };

  g_option_context_set_summary (
      context, "Tell how much space converting IMAGE to the format -O "
               "takes, the way\nqemu-img measure does. With --member, the "
               "image is a member of the\ntar/OVA archive IMAGE.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_image_args_parse (&args, context, "measure", &argc, &argv))
    return CLI_EXIT_USAGE;
  if (target_format == NULL || target_format[0] == '\0')
    return cli_usage_error ("measure", "-O FMT is required");

  options = cli_image_args_to_options (&args);
  measure = imgxfer_image_measure (argv[1], options, target_format,
                                   cli_cancellable (), &error);
  if (measure == NULL)
    return cli_fail (error);

  if (cli_image_args_json (&args))
    cli_print_json (measure);
  else
    print_human (json_node_get_object (measure));
  return CLI_EXIT_OK;
}

const CliCommand cli_command_measure = {
  "measure", "tell the space a converted image needs", run,
};
