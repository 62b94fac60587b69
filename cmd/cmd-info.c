/* cmd-info.c: imgxfer info
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image-args.h"

#define TAR_MAGIC_OFFSET 257

/* A tar archive has "ustar" at offset 257 of its first header, in all of
 * the ustar, GNU and pax flavours. */
static gboolean
is_tar_archive (const char *path)
{
  char header[512];
  FILE *file;
  gboolean tar;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  file = fopen (path, "rb");
  if (file == NULL)
    return FALSE;
  tar = fread (header, 1, sizeof header, file) == sizeof header
        && memcmp (header + TAR_MAGIC_OFFSET, "ustar", 5) == 0;
  fclose (file);
  return tar;
}

static void
print_size_line (const char *label, JsonObject *info, const char *key)
{
  g_autofree char *pretty = NULL;
  gint64 size;

  if (!json_object_has_member (info, key))
    return;
  size = json_object_get_int_member (info, key);
  pretty = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
  g_print ("%s: %s (%" G_GINT64_FORMAT " bytes)\n", label, pretty, size);
}

static void
print_string_line (const char *label, JsonObject *info, const char *key)
{
  if (json_object_has_member (info, key))
    g_print ("%s: %s\n", label, json_object_get_string_member (info, key));
}

static void
print_int_line (const char *label, JsonObject *info, const char *key)
{
  if (json_object_has_member (info, key))
    g_print ("%s: %" G_GINT64_FORMAT "\n", label,
             json_object_get_int_member (info, key));
}

/* The first lines of `qemu-img info`, and the member's place. */
static void
print_human (JsonObject *info)
{
  print_string_line ("image", info, "filename");
  print_string_line ("file format", info, "format");
  print_size_line ("virtual size", info, "virtual-size");
  print_size_line ("disk size", info, "actual-size");
  print_int_line ("cluster_size", info, "cluster-size");
  print_string_line ("backing file", info, "backing-filename");
  print_string_line ("backing file format", info, "backing-filename-format");
  print_int_line ("member offset", info, "member-offset");
  print_int_line ("member size", info, "member-size");
}

static const char *
string_or (JsonObject *object, const char *key, const char *fallback)
{
  return json_object_has_member (object, key)
             ? json_object_get_string_member (object, key)
             : fallback;
}

static void
print_members (JsonArray *members)
{
  g_print ("%-32s %12s %12s  %s\n", "Member", "Offset", "Size", "Format");
  for (guint i = 0; i < json_array_get_length (members); i++)
    {
      JsonObject *member = json_array_get_object_element (members, i);
      gboolean sparse = json_object_get_boolean_member_with_default (
          member, "sparse", FALSE);

      g_print ("%-32s %12" G_GINT64_FORMAT " %12" G_GINT64_FORMAT "  %s\n",
               json_object_get_string_member (member, "name"),
               json_object_get_int_member (member, "offset"),
               json_object_get_int_member (member, "size"),
               sparse ? "(sparse: unreadable)"
                      : string_or (member, "format", "?"));
    }
}

static void
print_ovf_disks (JsonObject *listing)
{
  JsonArray *disks = json_object_get_array_member (listing, "disks");

  g_print ("\nOVF descriptor: %s\n",
           json_object_get_string_member (listing, "ovf"));
  if (json_object_has_member (listing, "ovf-error"))
    g_print ("  cannot be parsed: %s\n",
             json_object_get_string_member (listing, "ovf-error"));
  for (guint i = 0; disks && i < json_array_get_length (disks); i++)
    {
      JsonObject *disk = json_array_get_object_element (disks, i);
      const char *href = string_or (disk, "href", "?");

      g_print ("  disk %s: %s", string_or (disk, "disk-id", "?"), href);
      if (json_object_has_member (disk, "capacity"))
        g_print (", capacity %" G_GINT64_FORMAT " bytes",
                 json_object_get_int_member (disk, "capacity"));
      if (!json_object_get_boolean_member_with_default (disk, "in-archive",
                                                        FALSE))
        g_print (" (not in the archive)");
      g_print ("\n");
    }
}

/* What an archive holds, when it was named without --member. */
static int
list_archive (const char *path, gboolean json)
{
  g_autoptr (JsonNode) listing = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *object;

  listing = imgxfer_archive_list (path, cli_cancellable (), &error);
  if (listing == NULL)
    return cli_fail (error);

  if (json)
    {
      cli_print_json (listing);
      return CLI_EXIT_OK;
    }

  object = json_node_get_object (listing);
  g_print ("archive: %s\n", json_object_get_string_member (object, "archive"));
  print_members (json_object_get_array_member (object, "members"));
  if (json_object_has_member (object, "ovf"))
    print_ovf_disks (object);
  g_print ("\nUse --member NAME to describe a member.\n");
  return CLI_EXIT_OK;
}

static int
run (int argc, char **argv)
{
  g_autoptr (GOptionContext) context
      = g_option_context_new ("IMAGE_OR_URL");
  g_auto (CliImageArgs) args = { 0 };
  g_autoptr (ImgxferOpenOptions) options = NULL;
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (
      context, "Describe an image the way qemu-img info does: its format, "
               "virtual size,\ncluster size and backing file. With "
               "--member, the image is a member of\nthe tar/OVA archive "
               "IMAGE, and its offset and size in the archive are shown;\n"
               "without, an archive's members and OVF disks are listed.");
  if (!cli_image_args_parse (&args, context, "info", &argc, &argv))
    return CLI_EXIT_USAGE;

  /* -f names the format of the image itself, so a tar file can still be
   * described as a raw image. */
  if (args.member == NULL && args.format == NULL && is_tar_archive (argv[1]))
    return list_archive (argv[1], cli_image_args_json (&args));

  options = cli_image_args_to_options (&args);
  info = imgxfer_image_info (argv[1], options, cli_cancellable (), &error);
  if (info == NULL)
    return cli_fail (error);

  if (cli_image_args_json (&args))
    cli_print_json (info);
  else
    print_human (json_node_get_object (info));
  return CLI_EXIT_OK;
}

const CliCommand cli_command_info = {
  "info", "describe an image (format, sizes, backing file)", run,
};
