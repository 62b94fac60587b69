/* imgxfer-qemu-map.c: where a qcow2 image keeps its data clusters, to
 * read them without qemu
 *
 * Reading a qcow2 through qemu-nbd costs a copy through a socket for
 * every byte. Most clusters of a qcow2 are guest bytes stored as they are
 * in the image file, and `qemu-img map` says where, so those are read
 * from the file directly; so are those of backing files that are local
 * qcow2 or raw files. Compressed and encrypted clusters, zero clusters,
 * holes and the data of other layers stay qemu's to read: the map keeps
 * only data at a known offset of a layer it can read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qemu-chain.h"
#include "imgxfer-qemu-img.h"
#include "imgxfer-qemu-map.h"

/* 32 bytes each: 8 MiB at most. A 1 TiB image fragmented down to single
 * 64 KiB clusters would need 16M; the ranges past the last one kept are
 * read through qemu. */
#define MAX_RUNS (256 * 1024)

/* The qcow2 header fields read here (docs/interop/qcow2.txt in qemu). */
#define QCOW2_MAGIC 0x514649fb /* "QFI\xfb" */
#define QCOW2_HEADER_V3_SIZE 104
#define QCOW2_BACKING_FILE_OFFSET_OFFSET 8
#define QCOW2_INCOMPATIBLE_FEATURES_OFFSET 72
#define QCOW2_INCOMPAT_DATA_FILE (1 << 2)

/* A layer of the backing chain, at its depth below the top: its bytes
 * are [base, base + limit) of @path (a tar member for the top). fd -1:
 * qemu reads its data. */
typedef struct
{
  char *path;
  int fd;
  guint64 base;
  guint64 limit;
} MapLayer;

/* Guest bytes [start, start + length) are at @host in the bytes of
 * @layer. */
typedef struct
{
  guint64 start;
  guint64 length;
  guint64 host;
  guint layer;
} MapRun;

struct _ImgxferQemuMap
{
  GObject parent_instance;

  char *filename;   /* qemu's name for the image */
  gboolean shallow; /* qemu opens the top layer alone */
  gsize loaded;
  GArray *layers; /* of MapLayer, the top first */
  GArray *runs;   /* of MapRun, sorted, not overlapping */
};

G_DEFINE_FINAL_TYPE (ImgxferQemuMap, imgxfer_qemu_map, G_TYPE_OBJECT)

static void
map_layer_clear (MapLayer *layer)
{
  if (layer->fd >= 0)
    close (layer->fd);
  g_free (layer->path);
}

static MapLayer *
get_layer (ImgxferQemuMap *self, guint depth)
{
  return &g_array_index (self->layers, MapLayer, depth);
}

/* Whether @layer's own file holds its data: qemu reads the data of an
 * image with an external data file from that file, and `qemu-img map`
 * gives offsets in it. Says too whether @layer names a backing file. */
static gboolean
check_qcow2_layer (MapLayer *layer, gboolean *has_backing, GError **error)
{
  guint8 header[QCOW2_HEADER_V3_SIZE];
  guint32 magic, version;
  guint64 backing, incompatible;

  if (layer->limit < sizeof header)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: too small for a qcow2 v3 header", layer->path);
      return FALSE;
    }
  if (!_imgxfer_local_pio (layer->fd, layer->path, FALSE, header, sizeof header,
                           layer->base, error))
    return FALSE;

  memcpy (&magic, header, sizeof magic);
  memcpy (&version, header + 4, sizeof version);
  memcpy (&backing, header + QCOW2_BACKING_FILE_OFFSET_OFFSET, sizeof backing);
  if (GUINT32_FROM_BE (magic) != QCOW2_MAGIC)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: no qcow2 header at offset %" G_GUINT64_FORMAT,
                   layer->path, layer->base);
      return FALSE;
    }
  *has_backing = backing != 0;
  /* Version 2 has no feature bits, and no external data file. */
  if (GUINT32_FROM_BE (version) < 3)
    return TRUE;

  memcpy (&incompatible, header + QCOW2_INCOMPATIBLE_FEATURES_OFFSET,
          sizeof incompatible);
  if (GUINT64_FROM_BE (incompatible) & QCOW2_INCOMPAT_DATA_FILE)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the qcow2 image keeps its data in an external file",
                   layer->path);
      return FALSE;
    }
  return TRUE;
}

/* qemu takes "nbd:...", "http://..." or "json:{...}" (a colon before any
 * slash) for a protocol, not a file name. */
static gboolean
is_local_path (const char *path)
{
  const char *colon = strchr (path, ':');
  const char *slash = strchr (path, '/');

  return colon == NULL || (slash != NULL && slash < colon);
}

/* A backing file whose data qemu-img map points into: a local qcow2 or
 * raw file, whole. */
static gboolean
open_backing_layer (MapLayer *layer, const char *format, GError **error)
{
  gboolean has_backing;
  off_t size;

  if (!is_local_path (layer->path)
      || (g_strcmp0 (format, "qcow2") != 0 && g_strcmp0 (format, "raw") != 0))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: not a local qcow2 or raw file", layer->path);
      return FALSE;
    }

  layer->fd = _imgxfer_local_open (layer->path, O_RDONLY | O_CLOEXEC, error);
  if (layer->fd < 0)
    return FALSE;
  /* A block device's st_size is 0. */
  size = lseek (layer->fd, 0, SEEK_END);
  if (size < 0)
    return _imgxfer_set_errno_error (error, errno, layer->path, "seek", 0);
  layer->limit = size;

  return g_str_equal (format, "raw")
         || check_qcow2_layer (layer, &has_backing, error);
}

/* The layers below the top, as qemu opens them for @filename. One that
 * cannot be read here keeps fd -1. */
static gboolean
add_backing_layers (ImgxferQemuMap *self, const char *filename,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonArray) chain
      = _imgxfer_qemu_backing_chain (filename, cancellable, error);

  if (chain == NULL)
    return FALSE;
  for (guint i = 1; i < json_array_get_length (chain); i++)
    {
      JsonNode *node = json_array_get_element (chain, i);
      g_autoptr (GError) local_error = NULL;
      MapLayer layer = { NULL, -1, 0, 0 };
      JsonObject *info;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                       "qemu-img info gave no layer %u for %s", i, filename);
          return FALSE;
        }
      info = json_node_get_object (node);
      layer.path = g_strdup (
          json_object_get_string_member_with_default (info, "filename", ""));
      if (!open_backing_layer (
              &layer,
              json_object_get_string_member_with_default (info, "format", ""),
              &local_error))
        {
          g_debug ("%s: read through qemu: %s", layer.path,
                   local_error->message);
          if (layer.fd >= 0)
            close (layer.fd);
          layer.fd = -1;
        }
      g_array_append_val (self->layers, layer);
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
               "%s: qemu-img map gave %s: %s", get_layer (self, 0)->path, why,
               line);
  return FALSE;
}

static void
add_run (ImgxferQemuMap *self, const MapRun *run)
{
  MapRun *last = self->runs->len
                     ? &g_array_index (self->runs, MapRun, self->runs->len - 1)
                     : NULL;

  if (last && last->layer == run->layer
      && last->start + last->length == run->start
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
  gint64 depth;
  MapLayer *layer;
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

  /* Data stored as the guest sees it, in a layer we read. */
  depth = json_object_get_int_member_with_default (object, "depth", -1);
  if (depth < 0 || depth >= self->layers->len || get_layer (self, depth)->fd < 0
      || !json_object_get_boolean_member_with_default (object, "data", FALSE)
      || !json_object_has_member (object, "offset"))
    return TRUE;

  layer = get_layer (self, depth);
  run.start = json_object_get_int_member (object, "start");
  run.length = json_object_get_int_member (object, "length");
  run.host = json_object_get_int_member (object, "offset");
  run.layer = depth;
  /* The offsets are in the qcow2's own bytes, also when they are a range
   * of a bigger file (qemu's raw driver with an offset): a tar member. */
  if (run.length == 0 || run.host > layer->limit
      || run.length > layer->limit - run.host)
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
  const char *argv[] = { "map", "--output=json", "--", filename, NULL };
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  MapReader reader = { self, parser };

  return _imgxfer_qemu_img_lines (argv, read_map_line, &reader, cancellable,
                                  error);
}

/* Where the top layer lies was set by imgxfer_qemu_map_new(). */
static gboolean
load (ImgxferQemuMap *self, GCancellable *cancellable, GError **error)
{
  MapLayer *top = get_layer (self, 0);
  g_autoptr (GError) local_error = NULL;
  gboolean has_backing;

  top->fd = _imgxfer_local_open (top->path, O_RDONLY | O_CLOEXEC, error);
  if (top->fd < 0 || !check_qcow2_layer (top, &has_backing, error))
    return FALSE;

  /* Opened shallow, the image has no layers below it to ask about. */
  if (has_backing && !self->shallow
      && !add_backing_layers (self, self->filename, cancellable, &local_error))
    g_debug ("%s: backing files read through qemu: %s", top->path,
             local_error->message);

  return read_map (self, self->filename, cancellable, error);
}

ImgxferQemuMap *
imgxfer_qemu_map_new (const ImgxferLocalBytes *bytes, const char *filename,
                      gboolean shallow)
{
  ImgxferQemuMap *self;
  MapLayer top = { NULL, -1, bytes->offset, bytes->size };

  g_return_val_if_fail (bytes->path != NULL, NULL);

  self = g_object_new (IMGXFER_TYPE_QEMU_MAP, NULL);
  top.path = g_strdup (bytes->path);
  g_array_append_val (self->layers, top);
  self->filename = g_strdup (filename);
  self->shallow = shallow;
  return self;
}

void
imgxfer_qemu_map_load (ImgxferQemuMap *self, GCancellable *cancellable)
{
  g_autoptr (GError) error = NULL;

  if (!g_once_init_enter (&self->loaded))
    return;

  if (!load (self, cancellable, &error))
    {
      g_debug ("%s: every read goes through qemu-nbd: %s",
               get_layer (self, 0)->path, error->message);
      g_array_set_size (self->runs, 0);
    }
  g_once_init_leave (&self->loaded, 1);
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
  const MapLayer *layer;

  g_return_val_if_fail (index >= 0, FALSE);
  run = &g_array_index (self->runs, MapRun, index);
  g_return_val_if_fail (offset + length <= run->start + run->length, FALSE);
  layer = get_layer (self, run->layer);

  return _imgxfer_local_pio (layer->fd, layer->path, FALSE, buffer, length,
                             layer->base + run->host + (offset - run->start),
                             error);
}

static void
imgxfer_qemu_map_finalize (GObject *object)
{
  ImgxferQemuMap *self = IMGXFER_QEMU_MAP (object);

  g_free (self->filename);
  g_array_unref (self->layers);
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
  self->layers = g_array_new (FALSE, FALSE, sizeof (MapLayer));
  g_array_set_clear_func (self->layers, (GDestroyNotify)map_layer_clear);
  self->runs = g_array_new (FALSE, FALSE, sizeof (MapRun));
}
