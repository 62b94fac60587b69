/* cmd-extents.c: imgxfer extents
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "cli.h"
#include "commands.h"
#include "image-args.h"

static const char *
describe (const ImgxferExtent *extent, ImgxferExtentContext context)
{
  gboolean zero = extent->flags & IMGXFER_EXTENT_ZERO;

  if (context == IMGXFER_EXTENT_CONTEXT_DIRTY)
    {
      if (extent->flags & IMGXFER_EXTENT_DIRTY)
        return zero ? "dirty zero" : "dirty data";
      return zero ? "clean zero" : "clean data";
    }
  if (extent->flags & IMGXFER_EXTENT_HOLE)
    return "hole";
  return zero ? "zero" : "data";
}

static void
print_table (GArray *extents, ImgxferExtentContext context)
{
  g_print ("%-20s %-20s %s\n", "Offset", "Length", "Type");
  for (guint i = 0; i < extents->len; i++)
    {
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

      g_print ("%-20" G_GUINT64_FORMAT " %-20" G_GUINT64_FORMAT " %s\n",
               e->start, e->length, describe (e, context));
    }
}

static int
run (int argc, char **argv)
{
  g_autoptr (GOptionContext) context
      = g_option_context_new ("IMAGE_OR_URL");
  g_auto (CliImageArgs) args = { 0 };
  g_autoptr (ImgxferOpenOptions) options = NULL;
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GArray) extents = NULL;
  g_autoptr (GError) error = NULL;
  ImgxferExtentContext extent_context;
  const GOptionEntry entries[] = {
    { "bitmap", 0, 0, G_OPTION_ARG_STRING, &args.bitmap,
      "Show which ranges changed since this dirty bitmap was created",
      "NAME" },
    { "shallow", 0, 0, G_OPTION_ARG_NONE, &args.shallow,
      "Only the top layer: unallocated ranges are holes", NULL },
    { NULL },
  };

  g_option_context_set_summary (
      context, "List the image's extents: data, zero, and holes (ranges "
               "not allocated in the\ntop layer of a backing chain). With "
               "--bitmap, list dirty and clean ranges\ninstead. With "
               "--output=json, print them as the imageio extents API does.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_image_args_parse (&args, context, "extents", &argc, &argv))
    return CLI_EXIT_USAGE;

  extent_context = args.bitmap != NULL ? IMGXFER_EXTENT_CONTEXT_DIRTY
                                       : IMGXFER_EXTENT_CONTEXT_ZERO;
  options = cli_image_args_to_options (&args);
  source = imgxfer_open (argv[1], options, cli_cancellable (), &error);
  if (source == NULL)
    return cli_fail (error);

  extents = imgxfer_image_extents (source, extent_context, cli_cancellable (),
                                   &error);
  /* Listed only when the image was read to the end well. */
  if (extents == NULL
      || !imgxfer_backend_close (source, IMGXFER_CLOSE_NONE,
                                 cli_cancellable (), &error))
    return cli_fail (error);

  if (cli_image_args_json (&args))
    {
      g_autoptr (JsonNode) json
          = imgxfer_extents_to_json (extents, extent_context);

      cli_print_json (json);
    }
  else
    print_table (extents, extent_context);
  return CLI_EXIT_OK;
}

const CliCommand cli_command_extents = {
  "extents", "list an image's data, zero and dirty ranges", run,
};
