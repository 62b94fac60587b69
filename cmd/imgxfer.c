/* imgxfer.c: the imgxfer command
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"

static const CliCommand *const commands[] = {
  /* clang-format off */
  &cli_command_checksum,
  &cli_command_compare,
  &cli_command_convert,
  &cli_command_drivers,
  &cli_command_extents,
  &cli_command_info,
  &cli_command_measure,
  &cli_command_serve,
  &cli_command_ticket,
  /* clang-format on */
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: imgxfer COMMAND [OPTION...] ARGS\n\n"
                "Move virtual disk images between files, NBD servers, qemu "
                "formats,\narchive members and imageio servers.\n\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf (out, "\nRun 'imgxfer COMMAND --help' for a command's options.\n");
}

static int
run_command (const CliCommand *command, int argc, char **argv)
{
  g_autofree char *prgname = g_strdup_printf ("imgxfer %s", command->name);

  /* What --help shows on its usage line. */
  g_set_prgname (prgname);
  return command->run (argc, argv);
}

static int
dispatch (int argc, char **argv)
{
  if (argc < 2)
    {
      print_usage (stderr);
      return CLI_EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "--version") || g_str_equal (argv[1], "-V"))
    {
      g_print ("imgxfer %s\n", IMGXFER_VERSION_STRING);
      return CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")
      || g_str_equal (argv[1], "help"))
    {
      print_usage (stdout);
      return CLI_EXIT_OK;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i]->name))
      return run_command (commands[i], argc - 1, argv + 1);

  g_printerr ("imgxfer: unknown command \"%s\"\n\n", argv[1]);
  print_usage (stderr);
  return CLI_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  cli_guard_standard_fds ();
  setlocale (LC_ALL, "");
  cli_output_init ();

  return cli_close_stdout (dispatch (argc, argv));
}
