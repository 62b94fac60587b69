/* cmd-drivers.c: imgxfer drivers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "cli.h"
#include "commands.h"

static int
run (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autofree GType *types = NULL;
  guint n_types;

  g_option_context_set_summary (context,
                                "List the drivers, the URL schemes and "
                                "formats each opens, and where it comes from.");
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;

  types = imgxfer_driver_list (&n_types);
  for (guint i = 0; i < n_types; i++)
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (types[i]);
      ImgxferBackendClass *backend_class = (ImgxferBackendClass *)klass;
      g_autoptr (GString) schemes = g_string_new (NULL);
      const char *module = imgxfer_driver_get_module_path (types[i]);

      for (const char *const *s = backend_class->schemes; s && *s; s++)
        g_string_append_printf (schemes, "%s%s", schemes->len ? "," : "",
                                **s ? *s : "(path)");
      for (const char *const *f = backend_class->formats; f && *f; f++)
        g_string_append_printf (schemes, "%sformat=%s",
                                schemes->len ? "," : "", *f);

      g_print ("%-10s %-40s %s\n", backend_class->name, schemes->str,
               module ? module : "built-in");
    }
  return CLI_EXIT_OK;
}

const CliCommand cli_command_drivers = {
  "drivers", "list the drivers and their URL schemes", run,
};
