/* imgxfer-qemu-map.c: where a qcow2 image keeps its data clusters, to
 * read them without qemu
 *
 * Reading a qcow2 through qemu-nbd costs a copy through a socket for
 * every byte. Most clusters of a qcow2 are guest bytes stored as they are
 * in the image file, and `qemu-img map` says where, so those are read
 * from the file directly. Compressed and encrypted clusters, zero
 * clusters, holes and the backing files' clusters stay qemu's to read:
 * the map keeps only data of the top layer at a known offset.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "core/imgxfer-qemu-img-private.h"
#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qemu-map.h"

/* 24 bytes each: 6 MiB at most. A 1 TiB image fragmented down to single
 * 64 KiB clusters would need 16M; the ranges past the last one kept are
 * read through qemu. */
#define MAX_RUNS (256 * 1024)

/* The qcow2 header fields read here (docs/interop/qcow2.txt in qemu). */
#define QCOW2_MAGIC 0x514649fb /* "QFI\xfb" */
#define QCOW2_HEADER_V3_SIZE 104
#define QCOW2_INCOMPATIBLE_FEATURES_OFFSET 72
#define QCOW2_INCOMPAT_DATA_FILE (1 << 2)

/* Guest bytes [start, start + length) are at @host in the image's bytes
 * (from the start of ImgxferLocalBytes's range). */
typedef struct
{
  guint64 start;
  guint64 length;
  guint64 host;
} MapRun;

struct _ImgxferQemuMap
{
  GObject parent_instance;

  char *path;
  int fd;
  guint64 base;  /* where the image's bytes start in @path */
  guint64 limit; /* their size */
  GArray *runs;  /* of MapRun, sorted, not overlapping */
};

G_DEFINE_FINAL_TYPE (ImgxferQemuMap, imgxfer_qemu_map, G_TYPE_OBJECT)

/* qemu reads the data of an image with an external data file from that
 * file, and `qemu-img map` gives offsets in it. */
static gboolean
check_data_in_image (ImgxferQemuMap *self, GError **error)
{
  guint8 header[QCOW2_HEADER_V3_SIZE];
  guint32 magic, version;
  guint64 incompatible;

  if (self->limit < sizeof header)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: too small for a qcow2 v3 header", self->path);
      return FALSE;
    }
  if (!_imgxfer_local_pio (self->fd, self->path, FALSE, header, sizeof header,
                           self->base, error))
    return FALSE;

  memcpy (&magic, header, sizeof magic);
  memcpy (&version, header + 4, sizeof version);
  if (GUINT32_FROM_BE (magic) != QCOW2_MAGIC)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: no qcow2 header at offset %" G_GUINT64_FORMAT,
                   self->path, self->base);
      return FALSE;
    }
  /* Version 2 has no feature bits, and no external data file. */
  if (GUINT32_FROM_BE (version) < 3)
    return TRUE;

  memcpy (&incompatible, header + QCOW2_INCOMPATIBLE_FEATURES_OFFSET,
          sizeof incompatible);
  if (GUINT64_FROM_BE (incompatible) & QCOW2_INCOMPAT_DATA_FILE)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the qcow2 image keeps its data in an external file",
                   self->path);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  ImgxferQemuMap *map;
  JsonParser *parser;
} MapReader;

static gboolean
set_bad_entry_error (GError **error, ImgxferQemuMap *self, const char *line,
                     const char *why)
{
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
               "%s: qemu-img map gave %s: %s", self->path, why, line);
  return FALSE;
}

static void
add_run (ImgxferQemuMap *self, const MapRun *run)
{
  MapRun *last = self->runs->len
                     ? &g_array_index (self->runs, MapRun, self->runs->len - 1)
                     : NULL;

  if (last && last->start + last->length == run->start
      && last->host + last->length == run->host)
    last->length += run->length;
  else
    g_array_append_val (self->runs, *run);
}

/* One entry of the JSON array, as qemu-img prints it: one per line,
 * between "[" and "]" and followed by ",". */
static gboolean
read_map_line (const char *line, gpointer user_data, GError **error)
{
  MapReader *reader = user_data;
  ImgxferQemuMap *self = reader->map;
  g_autofree char *text = g_strstrip (g_strdup (line));
  char *entry = text;
  gsize length = strlen (entry);
  JsonObject *object;
  MapRun run;

  if (*entry == '[')
    entry++, length--;
  if (length > 0 && (entry[length - 1] == ',' || entry[length - 1] == ']'))
    entry[--length] = '\0';
  if (length == 0)
    return TRUE;

  if (!json_parser_load_from_data (reader->parser, entry, length, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (reader->parser)))
    return set_bad_entry_error (error, self, line, "no JSON object");
  object = json_node_get_object (json_parser_get_root (reader->parser));

  /* Data of the top layer, stored as the guest sees it. */
  if (json_object_get_int_member_with_default (object, "depth", -1) != 0
      || !json_object_get_boolean_member_with_default (object, "data", FALSE)
      || !json_object_has_member (object, "offset"))
    return TRUE;

  run.start = json_object_get_int_member (object, "start");
  run.length = json_object_get_int_member (object, "length");
  run.host = json_object_get_int_member (object, "offset");
  /* The offsets are in the qcow2's own bytes, also when they are a range
   * of a bigger file (qemu's raw driver with an offset): a tar member. */
  if (run.length == 0 || run.host > self->limit
      || run.length > self->limit - run.host)
    return set_bad_entry_error (error, self, line, "data outside of the image");
  if (self->runs->len > 0)
    {
      MapRun *last = &g_array_index (self->runs, MapRun, self->runs->len - 1);

      if (run.start < last->start + last->length)
        return set_bad_entry_error (error, self, line, "an unsorted entry");
    }

  add_run (self, &run);
  /* Enough: the rest is read through qemu. */
  return self->runs->len < MAX_RUNS;
}

static gboolean
read_map (ImgxferQemuMap *self, const char *filename, GCancellable *cancellable,
          GError **error)
{
  const char *argv[] = { "map", "--output=json", filename, NULL };
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  MapReader reader = { self, parser };

  return _imgxfer_qemu_img_lines (argv, read_map_line, &reader, cancellable,
                                  error);
}

ImgxferQemuMap *
imgxfer_qemu_map_new (const ImgxferLocalBytes *bytes, const char *filename,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferQemuMap) self = g_object_new (IMGXFER_TYPE_QEMU_MAP, NULL);

  g_return_val_if_fail (bytes->path != NULL, NULL);

  self->path = g_strdup (bytes->path);
  self->base = bytes->offset;
  self->limit = bytes->size;
  self->fd = _imgxfer_local_open (self->path, O_RDONLY | O_CLOEXEC, error);
  if (self->fd < 0 || !check_data_in_image (self, error)
      || !read_map (self, filename, cancellable, error))
    return NULL;

  return g_steal_pointer (&self);
}

/* The index of the last run starting at or before @offset, or -1. */
static gssize
find_run (ImgxferQemuMap *self, guint64 offset)
{
  const MapRun *runs = (const MapRun *)self->runs->data;
  gsize low = 0, high = self->runs->len;

  while (low < high)
    {
      gsize middle = low + (high - low) / 2;

      if (runs[middle].start <= offset)
        low = middle + 1;
      else
        high = middle;
    }
  return (gssize)low - 1;
}

gsize
imgxfer_qemu_map_next_run (ImgxferQemuMap *self, guint64 offset, gsize length,
                           gboolean *direct)
{
  gssize index = find_run (self, offset);
  const MapRun *run;

  if (index >= 0)
    {
      run = &g_array_index (self->runs, MapRun, index);
      if (offset < run->start + run->length)
        {
          *direct = TRUE;
          return MIN (length, run->start + run->length - offset);
        }
    }

  *direct = FALSE;
  if ((gsize)(index + 1) < self->runs->len)
    {
      run = &g_array_index (self->runs, MapRun, index + 1);
      return MIN (length, run->start - offset);
    }
  return length;
}

gboolean
imgxfer_qemu_map_pread (ImgxferQemuMap *self, void *buffer, gsize length,
                        guint64 offset, GError **error)
{
  gssize index = find_run (self, offset);
  const MapRun *run;

  g_return_val_if_fail (index >= 0, FALSE);
  run = &g_array_index (self->runs, MapRun, index);
  g_return_val_if_fail (offset + length <= run->start + run->length, FALSE);

  return _imgxfer_local_pio (self->fd, self->path, FALSE, buffer, length,
                             self->base + run->host + (offset - run->start),
                             error);
}

static void
imgxfer_qemu_map_finalize (GObject *object)
{
  ImgxferQemuMap *self = IMGXFER_QEMU_MAP (object);

  if (self->fd >= 0)
    close (self->fd);
  g_free (self->path);
  g_array_unref (self->runs);

  G_OBJECT_CLASS (imgxfer_qemu_map_parent_class)->finalize (object);
}

static void
imgxfer_qemu_map_class_init (ImgxferQemuMapClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = imgxfer_qemu_map_finalize;
}

static void
imgxfer_qemu_map_init (ImgxferQemuMap *self)
{
  self->fd = -1;
  self->runs = g_array_new (FALSE, FALSE, sizeof (MapRun));
}
