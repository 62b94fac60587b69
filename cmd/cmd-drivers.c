/* cmd-drivers.c: imgxfer drivers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct
{
  const char *name;
  char *opens; /* schemes, then "formats: A,B" */
  const char *from;
} Row;

static void
row_clear (Row *row)
{
  g_free (row->opens);
}

static Row
describe (GType type)
{
  g_autoptr (GTypeClass) klass = g_type_class_ref (type);
  ImgxferBackendClass *backend_class = (ImgxferBackendClass *)klass;
  GString *opens = g_string_new (NULL);
  const char *module = imgxfer_driver_get_module_path (type);
  Row row;

  for (const char *const *s = backend_class->schemes; s && *s; s++)
    g_string_append_printf (opens, "%s%s", opens->len ? "," : "",
                            **s ? *s : "(path)");
  if (backend_class->formats && backend_class->formats[0])
    {
      g_autofree char *formats
          = g_strjoinv (",", (char **)backend_class->formats);

      g_string_append_printf (opens, "%sformats: %s", opens->len ? " " : "",
                              formats);
    }

  /* The class stays alive: drivers are never unloaded. */
  row.name = backend_class->name;
  row.opens = g_string_free (opens, FALSE);
  row.from = module ? module : "built-in";
  return row;
}

static void
print_rows (GArray *rows)
{
  int name_width = strlen ("Driver");
  int opens_width = strlen ("Opens");

  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = &g_array_index (rows, Row, i);

      name_width = MAX (name_width, (int)strlen (row->name));
      opens_width = MAX (opens_width, (int)strlen (row->opens));
    }
  g_print ("%-*s  %-*s  %s\n", name_width, "Driver", opens_width, "Opens",
           "From");
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = &g_array_index (rows, Row, i);

      g_print ("%-*s  %-*s  %s\n", name_width, row->name, opens_width,
               row->opens, row->from);
    }
}

static int
run (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (Row));
  g_autofree GType *types = NULL;
  guint n_types;

  g_option_context_set_summary (context,
                                "List the drivers, the URL schemes and "
                                "formats each opens, and where it comes from.");
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_usage_error ("drivers", "unexpected argument \"%s\"", argv[1]);

  g_array_set_clear_func (rows, (GDestroyNotify)row_clear);
  types = imgxfer_driver_list (&n_types);
  for (guint i = 0; i < n_types; i++)
    {
      Row row = describe (types[i]);

      g_array_append_val (rows, row);
    }
  print_rows (rows);
  return CLI_EXIT_OK;
}

const CliCommand cli_command_drivers = {
  "drivers", "list the drivers and their URL schemes", run,
};
