/* imgxfer-tar-listing.c: what an OVA/tar archive holds
 *
 * The listing behind imgxfer_archive_list() and `imgxfer info vm.ova`: the members with their byte
 * ranges and probed formats, and, when the archive holds an OVF
 * descriptor, the disks it names. The OVF is read lightly with GMarkup:
 * References/File give hrefs, DiskSection/Disk refer to them by id.
 * Namespace prefixes are ignored, so "ovf:href" and "href" are the same.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-image.h>

#include "imgxfer-tar-backend.h"

/* An OVF descriptor is a few KiB; anything far larger is not one. */
#define MAX_OVF_SIZE (16 * 1024 * 1024)

typedef struct
{
  char *id;
  char *file_ref;
  char *capacity;
  char *units;
  char *format;
} OvfDisk;

typedef struct
{
  GHashTable *hrefs; /* File id => href */
  GPtrArray *disks;  /* OvfDisk */
} OvfParser;

static void
ovf_disk_free (OvfDisk *disk)
{
  g_free (disk->id);
  g_free (disk->file_ref);
  g_free (disk->capacity);
  g_free (disk->units);
  g_free (disk->format);
  g_free (disk);
}

static const char *
local_name (const char *name)
{
  const char *colon = strrchr (name, ':');

  return colon ? colon + 1 : name;
}

static const char *
attribute (const char **names, const char **values, const char *wanted)
{
  for (; *names != NULL; names++, values++)
    if (g_str_equal (local_name (*names), wanted))
      return *values;
  return NULL;
}

static void
ovf_start_element (GMarkupParseContext *context,
                   const char *element,
                   const char **names,
                   const char **values,
                   gpointer user_data,
                   GError **error)
{
  OvfParser *parser = user_data;
  const char *name = local_name (element);

  if (g_str_equal (name, "File"))
    {
      const char *id = attribute (names, values, "id");
      const char *href = attribute (names, values, "href");

      if (id != NULL && href != NULL)
        g_hash_table_replace (parser->hrefs, g_strdup (id), g_strdup (href));
    }
  else if (g_str_equal (name, "Disk"))
    {
      OvfDisk *disk = g_new0 (OvfDisk, 1);

      disk->id = g_strdup (attribute (names, values, "diskId"));
      disk->file_ref = g_strdup (attribute (names, values, "fileRef"));
      disk->capacity = g_strdup (attribute (names, values, "capacity"));
      disk->units
          = g_strdup (attribute (names, values, "capacityAllocationUnits"));
      disk->format = g_strdup (attribute (names, values, "format"));
      g_ptr_array_add (parser->disks, disk);
    }
}

/* Capacity in bytes: "capacity" times "byte", "byte * 2^N" or
 * "byte * N" units (the forms OVF producers write); 0 when unknown. */
static guint64
disk_capacity (const OvfDisk *disk)
{
  g_autofree char *units = NULL;
  guint64 capacity, multiplier = 1, base, exponent;
  char *p, *end;

  if (disk->capacity == NULL
      || !g_ascii_string_to_unsigned (disk->capacity, 10, 0, G_MAXUINT64,
                                      &capacity, NULL))
    return 0;
  if (disk->units == NULL)
    return capacity;

  units = g_strdelimit (g_strdup (disk->units), " \t", ' ');
  p = g_strstrip (units);
  if (!g_str_has_prefix (p, "byte"))
    return 0;
  p = g_strchug (p + 4);
  if (*p != '\0')
    {
      if (*p != '*')
        return 0;
      p = g_strchug (p + 1);
      base = g_ascii_strtoull (p, &end, 10);
      p = g_strchug (end);
      if (*p == '^')
        {
          exponent = g_ascii_strtoull (p + 1, &end, 10);
          if (base != 2 || exponent > 62)
            return 0;
          base = G_GUINT64_CONSTANT (1) << exponent;
        }
      if (*g_strchug (end) != '\0' || base == 0)
        return 0;
      multiplier = base;
    }
  return capacity <= G_MAXUINT64 / multiplier ? capacity * multiplier : 0;
}

static gboolean
archive_has_member (ImgxferTarArchive *archive, const char *name)
{
  return _imgxfer_tar_archive_find (archive, name, NULL) != NULL;
}

static void
add_disk (JsonBuilder *builder,
          ImgxferTarArchive *archive,
          OvfParser *parser,
          const OvfDisk *disk)
{
  const char *href = disk->file_ref
                         ? g_hash_table_lookup (parser->hrefs, disk->file_ref)
                         : NULL;
  guint64 capacity = disk_capacity (disk);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "disk-id");
  json_builder_add_string_value (builder, disk->id);
  json_builder_set_member_name (builder, "file-ref");
  json_builder_add_string_value (builder, disk->file_ref);
  json_builder_set_member_name (builder, "href");
  json_builder_add_string_value (builder, href);
  json_builder_set_member_name (builder, "in-archive");
  json_builder_add_boolean_value (builder,
                                  href && archive_has_member (archive, href));
  if (capacity > 0)
    {
      json_builder_set_member_name (builder, "capacity");
      json_builder_add_int_value (builder, capacity);
    }
  if (disk->format != NULL)
    {
      json_builder_set_member_name (builder, "ovf-format");
      json_builder_add_string_value (builder, disk->format);
    }
  json_builder_end_object (builder);
}

static gboolean
parse_ovf (ImgxferTarArchive *archive,
           const ImgxferTarMember *member,
           OvfParser *parser,
           GError **error)
{
  static const GMarkupParser markup_parser = { .start_element
                                               = ovf_start_element };
  g_autoptr (GMarkupParseContext) context = NULL;
  g_autofree char *text = NULL;
  const char *start;

  if (member->size > MAX_OVF_SIZE)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "%" G_GUINT64_FORMAT " bytes, too large for an OVF",
                   member->size);
      return FALSE;
    }

  text = g_malloc (member->size + 1);
  if (!_imgxfer_tar_archive_pread (archive, text, member->size,
                                   member->offset, error))
    return FALSE;
  text[member->size] = '\0';

  /* Some producers start the file with a UTF-8 byte order mark, which
   * GMarkup refuses. */
  start = text;
  if (g_str_has_prefix (start, "\xef\xbb\xbf"))
    start += 3;

  context = g_markup_parse_context_new (&markup_parser, 0, parser, NULL);
  return g_markup_parse_context_parse (context, start,
                                       member->size - (start - text), error)
         && g_markup_parse_context_end_parse (context, error);
}

/* Adds "ovf", "disks" (and "ovf-error" when the OVF cannot be parsed)
 * for the first .ovf member. */
static void
add_ovf (JsonBuilder *builder, ImgxferTarArchive *archive)
{
  const ImgxferTarMember *ovf = NULL;
  g_autoptr (GError) error = NULL;
  OvfParser parser;

  for (guint i = 0; i < archive->members->len && ovf == NULL; i++)
    {
      const ImgxferTarMember *member = g_ptr_array_index (archive->members, i);

      if (member->regular && !member->sparse
          && g_str_has_suffix (member->name, ".ovf"))
        ovf = member;
    }
  if (ovf == NULL)
    return;

  parser.hrefs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        g_free);
  parser.disks = g_ptr_array_new_with_free_func ((GDestroyNotify)ovf_disk_free);

  json_builder_set_member_name (builder, "ovf");
  json_builder_add_string_value (builder, ovf->name);
  if (!parse_ovf (archive, ovf, &parser, &error))
    {
      json_builder_set_member_name (builder, "ovf-error");
      json_builder_add_string_value (builder, error->message);
    }
  json_builder_set_member_name (builder, "disks");
  json_builder_begin_array (builder);
  for (guint i = 0; i < parser.disks->len; i++)
    add_disk (builder, archive, &parser, g_ptr_array_index (parser.disks, i));
  json_builder_end_array (builder);

  g_hash_table_unref (parser.hrefs);
  g_ptr_array_unref (parser.disks);
}

static gboolean
add_member (JsonBuilder *builder,
            ImgxferTarArchive *archive,
            const ImgxferTarMember *member,
            GCancellable *cancellable,
            GError **error)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  const char *format;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, member->name);
  json_builder_set_member_name (builder, "offset");
  json_builder_add_int_value (builder, member->offset);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, member->size);

  /* A sparse member cannot be read in place: say so instead of a format. */
  if (member->sparse)
    {
      json_builder_set_member_name (builder, "sparse");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_end_object (builder);
      return TRUE;
    }

  backend = _imgxfer_tar_backend_new_for_member (archive, member, cancellable,
                                                 error);
  if (backend == NULL)
    return FALSE;
  format = imgxfer_probe_format (backend, cancellable, error);
  if (format == NULL)
    return FALSE;
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, format);
  json_builder_end_object (builder);
  return TRUE;
}

/* See imgxfer_archive_list(), which calls this. */
JsonNode *
_imgxfer_tar_archive_list (const char *path,
                           GCancellable *cancellable,
                           GError **error)
{
  g_autoptr (ImgxferTarArchive) archive = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *archive_path = NULL;

  archive_path = _imgxfer_tar_archive_path_from_url (path, error);
  if (archive_path == NULL)
    return NULL;
  archive = _imgxfer_tar_archive_open (archive_path, cancellable, error);
  if (archive == NULL)
    return NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "archive");
  json_builder_add_string_value (builder, archive_path);
  json_builder_set_member_name (builder, "members");
  json_builder_begin_array (builder);
  for (guint i = 0; i < archive->members->len; i++)
    {
      const ImgxferTarMember *member = g_ptr_array_index (archive->members, i);

      if (member->regular
          && !add_member (builder, archive, member, cancellable, error))
        return NULL;
    }
  json_builder_end_array (builder);
  add_ovf (builder, archive);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}
