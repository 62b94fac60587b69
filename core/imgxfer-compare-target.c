/* imgxfer-compare-target.c: a destination that compares instead of
 * writing
 *
 * The copy engine reads one image, in parallel and by its extents (zero
 * ranges are never read); given this destination, what it would write is
 * compared with the other image instead. Each clone keeps the other
 * image's extents for the range it works on, so a zero range of one image
 * over a zero range of the other costs no read at all, and a data range
 * over a zero one costs only the read of the first.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-compare-target-private.h"
#include "imgxfer-copy-private.h"
#include "imgxfer-extent-cursor-private.h"

/* How far ahead the other image's extents are asked for: a copy unit. */
#define EXTENTS_LOOK_AHEAD (128 * 1024 * 1024)
#define BUFFER_SIZE (1024 * 1024)
#define BUFFER_ALIGNMENT 4096
/* Buffers are compared a block at a time, then the first block that
 * differs byte by byte. */
#define SCAN_BLOCK 4096

struct _ImgxferCompareTarget
{
  ImgxferBackend parent_instance;

  ImgxferBackend *image;
  guint64 *first_difference; /* shared by the clones, atomic */
  guint8 *buffer;
  gsize read_size; /* the buffer's size, at most the image's maximum */
  ImgxferExtentCursor extents; /* the image's, of this clone's range */
};

static void
imgxfer_compare_target_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (
    ImgxferCompareTarget, _imgxfer_compare_target, IMGXFER_TYPE_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                           imgxfer_compare_target_destination_init))

static guint64
first_difference (ImgxferCompareTarget *self)
{
  return __atomic_load_n (self->first_difference, __ATOMIC_RELAXED);
}

static void
found_difference (ImgxferCompareTarget *self, guint64 offset)
{
  guint64 old = first_difference (self);

  while (offset < old
         && !__atomic_compare_exchange_n (self->first_difference, &old, offset,
                                          TRUE, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED))
    ;
}

/* The index of the first byte of @data that is not zero, or -1: whole
 * blocks are checked the fast way, then the first one that is not zero
 * byte by byte. */
static gssize
find_nonzero (const guint8 *data, gsize length)
{
  gboolean is_zero;
  gsize run = _imgxfer_copy_zero_run (data, length, 0, SCAN_BLOCK, &is_zero);

  if (!is_zero)
    run = 0;
  else if (run == length)
    return -1;
  for (gsize i = run;; i++)
    if (data[i])
      return i;
}

/* The index of the first byte where @a and @b differ, or -1; @b NULL
 * stands for zeroes. */
static gssize
find_difference (const guint8 *a, const guint8 *b, gsize length)
{
  if (b == NULL)
    return find_nonzero (a, length);

  for (gsize i = 0; i < length; i += SCAN_BLOCK)
    if (memcmp (a + i, b + i, MIN (SCAN_BLOCK, length - i)) != 0)
      for (gsize j = i;; j++)
        if (a[j] != b[j])
          return j;
  return -1;
}

/* Compares @length bytes at @offset with @data (NULL: zeroes); @zero
 * says that the image reads as zeroes there, and when it does not,
 * @length is at most the read size. */
static gboolean
compare_piece (ImgxferCompareTarget *self, const guint8 *data, guint64 offset,
               gsize length, gboolean zero, GCancellable *cancellable,
               GError **error)
{
  gssize at;

  if (zero && data == NULL)
    return TRUE;
  if (zero)
    at = find_nonzero (data, length);
  else if (imgxfer_source_pread (IMGXFER_SOURCE (self->image), self->buffer,
                                 length, offset, cancellable, error))
    at = find_difference (self->buffer, data, length);
  else
    return FALSE;

  if (at >= 0)
    found_difference (self, offset + at);
  return TRUE;
}

/* Compares @offset..+@length with @data, or with zeroes when @data is
 * NULL, piece by piece of the image's extents, until the end or the
 * first difference found by anyone. */
static gboolean
compare_range (ImgxferCompareTarget *self, const guint8 *data, guint64 offset,
               guint64 length, GCancellable *cancellable, GError **error)
{
  while (length > 0 && offset < first_difference (self))
    {
      guint64 n = length;
      gboolean zero = TRUE;

      /* Past its end, the image reads as zeroes. */
      if (offset < self->extents.size)
        {
          const ImgxferExtent *e = _imgxfer_extent_cursor_at (
              &self->extents, offset, cancellable, error);

          if (e == NULL)
            return FALSE;
          n = MIN (n, e->start + e->length - offset);
          zero = (e->flags & (IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE)) != 0;
        }
      if (!zero)
        n = MIN (n, self->read_size);

      if (!compare_piece (self, data, offset, n, zero, cancellable, error))
        return FALSE;
      offset += n;
      length -= n;
      if (data)
        data += n;
    }
  return TRUE;
}

static gboolean
imgxfer_compare_target_pwrite (ImgxferDestination *destination,
                               const void *buffer, gsize length, guint64 offset,
                               GCancellable *cancellable, GError **error)
{
  return compare_range (IMGXFER_COMPARE_TARGET (destination), buffer, offset,
                        length, cancellable, error);
}

static gboolean
imgxfer_compare_target_zero (ImgxferDestination *destination, guint64 offset,
                             guint64 length, ImgxferZeroFlags flags,
                             GCancellable *cancellable, GError **error)
{
  return compare_range (IMGXFER_COMPARE_TARGET (destination), NULL, offset,
                        length, cancellable, error);
}

static void
imgxfer_compare_target_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = imgxfer_compare_target_pwrite;
  iface->zero = imgxfer_compare_target_zero;
}

static ImgxferBackend *
imgxfer_compare_target_clone (ImgxferBackend *backend,
                              GCancellable *cancellable, GError **error)
{
  ImgxferCompareTarget *self = IMGXFER_COMPARE_TARGET (backend);
  g_autoptr (ImgxferBackend) image
      = imgxfer_backend_clone (self->image, cancellable, error);

  if (image == NULL)
    return NULL;
  return _imgxfer_compare_target_new (image, imgxfer_backend_get_size (backend),
                                      self->first_difference);
}

static gboolean
imgxfer_compare_target_open (ImgxferBackend *backend, GCancellable *cancellable,
                             GError **error)
{
  /* Made by _imgxfer_compare_target_new() only. */
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: not an image that can be opened",
               imgxfer_backend_get_url (backend));
  return FALSE;
}

static void
imgxfer_compare_target_finalize (GObject *object)
{
  ImgxferCompareTarget *self = IMGXFER_COMPARE_TARGET (object);

  g_clear_object (&self->image);
  g_clear_pointer (&self->buffer, g_aligned_free);
  _imgxfer_extent_cursor_clear (&self->extents);

  G_OBJECT_CLASS (_imgxfer_compare_target_parent_class)->finalize (object);
}

static void
_imgxfer_compare_target_class_init (ImgxferCompareTargetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  object_class->finalize = imgxfer_compare_target_finalize;
  backend_class->name = "compare";
  backend_class->open = imgxfer_compare_target_open;
  backend_class->clone = imgxfer_compare_target_clone;
}

static void
_imgxfer_compare_target_init (ImgxferCompareTarget *self)
{
}

ImgxferBackend *
_imgxfer_compare_target_new (ImgxferBackend *image, guint64 size,
                             guint64 *first_difference)
{
  ImgxferCompareTarget *self;
  guint32 maximum;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (image), NULL);
  g_return_val_if_fail (size >= imgxfer_backend_get_size (image), NULL);

  self = g_object_new (IMGXFER_TYPE_COMPARE_TARGET, "url",
                       imgxfer_backend_get_url (image), NULL);
  self->image = g_object_ref (image);
  _imgxfer_extent_cursor_init (&self->extents, self->image, EXTENTS_LOOK_AHEAD);
  self->first_difference = first_difference;
  self->buffer = g_aligned_alloc (1, BUFFER_SIZE, BUFFER_ALIGNMENT);

  /* Reads of the image are at most its maximum block size, and a copy
   * sends no request larger than the destination's. */
  imgxfer_backend_get_block_sizes (image, NULL, NULL, &maximum);
  self->read_size = MIN (maximum, BUFFER_SIZE);
  imgxfer_backend_set_size (IMGXFER_BACKEND (self), size);
  imgxfer_backend_set_caps (IMGXFER_BACKEND (self),
                            IMGXFER_BACKEND_CAN_WRITE
                                | IMGXFER_BACKEND_CAN_ZERO);
  imgxfer_backend_set_block_sizes (IMGXFER_BACKEND (self), 1, 4096,
                                   self->read_size);
  imgxfer_backend_set_max_connections (
      IMGXFER_BACKEND (self), imgxfer_backend_get_max_connections (image));
  return IMGXFER_BACKEND (self);
}
