/* cmd-compare.c: imgxfer compare
 *
 * In the terms of `qemu-img compare`: the same messages on stdout, the
 * offset of a difference given as that of its 512-byte sector; exit codes
 * are imgxfer's own (cli.h): 0 identical, 3 different, 1 error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "cli.h"
#include "commands.h"

#define COMMAND "compare"
#define SECTOR_SIZE 512
/* Workers, and the connections a driver that starts a server opens. */
#define CONNECTIONS 4

typedef struct
{
  char *format1; /* -f */
  char *format2; /* -F */
  gboolean strict;
  gboolean quiet;
} CompareArgs;

static void
compare_args_clear (CompareArgs *args)
{
  g_free (args->format1);
  g_free (args->format2);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CompareArgs, compare_args_clear)

static ImgxferBackend *
open_image (const char *url, const char *format, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, format);
  imgxfer_open_options_set_connections (options, CONNECTIONS);
  return imgxfer_open (url, options, cli_cancellable (), error);
}

static void
print_result (ImgxferCompareResult result, guint64 offset)
{
  switch (result)
    {
    case IMGXFER_COMPARE_IDENTICAL:
      g_print ("Images are identical.\n");
      break;
    case IMGXFER_COMPARE_CONTENT_DIFFERS:
      g_print ("Content mismatch at offset %" G_GUINT64_FORMAT "!\n",
               offset - offset % SECTOR_SIZE);
      break;
    case IMGXFER_COMPARE_ALLOCATION_DIFFERS:
      g_print ("Strict mode: Offset %" G_GUINT64_FORMAT
               " block status mismatch!\n",
               offset);
      break;
    case IMGXFER_COMPARE_SIZE_DIFFERS:
      g_print ("Strict mode: Image size mismatch!\n");
      break;
    }
}

static int
compare (CompareArgs *args, const char *url1, const char *url2)
{
  g_autoptr (ImgxferBackend) image1 = NULL;
  g_autoptr (ImgxferBackend) image2 = NULL;
  g_autoptr (GError) error = NULL;
  ImgxferCompareResult result;
  guint64 offset;

  image1 = open_image (url1, args->format1, &error);
  if (image1 != NULL)
    image2 = open_image (url2, args->format2, &error);
  if (image2 == NULL)
    return cli_fail_or_cancelled (error, "comparison of %s and %s", url1, url2);

  if (!imgxfer_compare (
          image1, image2,
          args->strict ? IMGXFER_COMPARE_STRICT : IMGXFER_COMPARE_NONE,
          CONNECTIONS, &result, &offset, cli_cancellable (), &error)
      || !imgxfer_backend_close (image1, IMGXFER_CLOSE_NONE,
                                 cli_cancellable (), &error)
      || !imgxfer_backend_close (image2, IMGXFER_CLOSE_NONE,
                                 cli_cancellable (), &error))
    return cli_fail_or_cancelled (error, "comparison of %s and %s", url1, url2);

  if (!args->quiet)
    {
      if (!args->strict
          && imgxfer_backend_get_size (image1)
                 != imgxfer_backend_get_size (image2))
        g_print ("Warning: Image size mismatch!\n");
      print_result (result, offset);
    }
  return result == IMGXFER_COMPARE_IDENTICAL ? CLI_EXIT_OK : CLI_EXIT_DIFFERENT;
}

static int
run (int argc, char **argv)
{
  g_auto (CompareArgs) args = { 0 };
  const GOptionEntry entries[] = {
    { "image1-format", 'f', 0, G_OPTION_ARG_STRING, &args.format1,
      "Format of IMAGE1 (probed when not given)", "FMT" },
    { "image2-format", 'F', 0, G_OPTION_ARG_STRING, &args.format2,
      "Format of IMAGE2 (probed when not given)", "FMT" },
    { "strict", 's', 0, G_OPTION_ARG_NONE, &args.strict,
      "Also compare sizes and allocation (data, zero, hole)", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &args.quiet,
      "Print nothing; only the exit code tells", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("IMAGE1 IMAGE2 - compare two images");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context,
      "Compare what the guest sees of two images, as qemu-img compare does;\n"
      "an image larger than the other is identical to it when its extra\n"
      "part reads as zeroes. Exit code 0: identical, 3: different, 1: error.");
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (argc != 3)
    return cli_usage_error (COMMAND, "expected two images, got %d", argc - 1);
  if (!cli_check_image_names (COMMAND, argc, argv))
    return CLI_EXIT_USAGE;
  if ((args.format1 && !*args.format1) || (args.format2 && !*args.format2))
    return cli_usage_error (COMMAND, "-f and -F need a format name");

  return compare (&args, argv[1], argv[2]);
}

const CliCommand cli_command_compare = {
  COMMAND,
  "compare two images (identical, or where they differ)",
  run,
};
