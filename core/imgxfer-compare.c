/* imgxfer-compare.c: comparing two images, as qemu-img compare does
 *
 * The contents are compared by the copy engine, with one image as the
 * source and, as the destination, a target that compares with the other
 * image what it is given (imgxfer-compare-target.c). The engine's workers
 * read in parallel and by extents; the first difference found becomes the
 * copy's limit, so that the workers stop past it while those before it go
 * on: the offset reported is the first that differs, whatever worker
 * found it first. Allocation (strict mode) is compared from the extents
 * alone, first, and bounds the comparison of the contents.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-compare.h>
#include <imgxfer/imgxfer-extent.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-compare-target-private.h"
#include "imgxfer-copy-private.h"
#include "imgxfer-extent-cursor-private.h"

/* How much of an image's extents is asked for at once in strict mode. */
#define EXTENTS_LENGTH (G_GUINT64_CONSTANT (16) << 30)

/* What strict mode compares: data, zero or hole. */
static ImgxferExtentFlags
allocation (const ImgxferExtent *e)
{
  if (e->flags & IMGXFER_EXTENT_HOLE)
    return IMGXFER_EXTENT_HOLE;
  return e->flags & IMGXFER_EXTENT_ZERO;
}

/* The first offset below @size where the two images' allocation differs,
 * or @size. */
static gboolean
find_allocation_difference (ImgxferBackend *image1, ImgxferBackend *image2,
                            guint64 size, guint64 *offset,
                            GCancellable *cancellable, GError **error)
{
  g_auto (ImgxferExtentCursor) walk1 = { 0 };
  g_auto (ImgxferExtentCursor) walk2 = { 0 };
  guint64 pos = 0;

  _imgxfer_extent_cursor_init (&walk1, image1, EXTENTS_LENGTH);
  _imgxfer_extent_cursor_init (&walk2, image2, EXTENTS_LENGTH);

  while (pos < size)
    {
      const ImgxferExtent *e1, *e2;

      e1 = _imgxfer_extent_cursor_at (&walk1, pos, cancellable, error);
      if (e1 == NULL)
        return FALSE;
      e2 = _imgxfer_extent_cursor_at (&walk2, pos, cancellable, error);
      if (e2 == NULL)
        return FALSE;
      if (allocation (e1) != allocation (e2))
        break;
      pos = MIN (e1->start + e1->length, e2->start + e2->length);
    }
  *offset = MIN (pos, size);
  return TRUE;
}

/* The first offset below *@limit where the images read differently, or
 * *@limit. The larger image is read by the engine, and the smaller one
 * reads as zeroes past its end. */
static gboolean
find_content_difference (ImgxferBackend *image1, ImgxferBackend *image2,
                         guint connections, guint64 *limit,
                         GCancellable *cancellable, GError **error)
{
  ImgxferBackend *larger = image1, *smaller = image2;
  g_autoptr (ImgxferBackend) target = NULL;
  ImgxferCopyJob job = { 0 };
  guint64 done = 0;

  if (imgxfer_backend_get_size (image2) > imgxfer_backend_get_size (image1))
    {
      larger = image2;
      smaller = image1;
    }
  target = _imgxfer_compare_target_new (
      smaller, imgxfer_backend_get_size (larger), limit);

  job.source = larger;
  job.destination = target;
  job.connections = connections;
  /* Each data range is compared whole, never cut at its zero blocks. */
  job.sparse = FALSE;
  job.done = &done;
  job.limit = limit;
  return _imgxfer_copy_job_run (&job, cancellable, error);
}

/**
 * imgxfer_compare:
 * @image1: a source
 * @image2: another source
 * @flags: how to compare
 * @connections: how many workers read each image, each with its own
 *   connections (clones); 0 for the default (4)
 * @result: (out): what was found
 * @offset: (out) (optional): where the images first differ; 0 when they
 *   are identical
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Compares two images the way `qemu-img compare` does: by what the guest
 * sees, an image larger than the other being identical to it when its
 * extra part reads as zeroes; with %IMGXFER_COMPARE_STRICT, also by size
 * and allocation. The images are read in parallel, by their extents: a
 * range that reads as zeroes in both is not read at all, so that two
 * large, mostly empty images compare in the time their extents take. The
 * offset given is that of the first byte that differs, whichever worker
 * found a difference first. Neither image is changed; @image1 and
 * @image2 must not be used by anything else meanwhile.
 *
 * Returns: %TRUE when the images were compared (identical or not);
 *   %FALSE with @error set when one could not be read
 *
 * Since: 0.1
 */
gboolean
imgxfer_compare (ImgxferBackend *image1, ImgxferBackend *image2,
                 ImgxferCompareFlags flags, guint connections,
                 ImgxferCompareResult *result, guint64 *offset,
                 GCancellable *cancellable, GError **error)
{
  guint64 size1, size2, limit;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (image1), FALSE);
  g_return_val_if_fail (IMGXFER_IS_SOURCE (image2), FALSE);
  g_return_val_if_fail (result != NULL, FALSE);

  size1 = imgxfer_backend_get_size (image1);
  size2 = imgxfer_backend_get_size (image2);
  *result = IMGXFER_COMPARE_IDENTICAL;
  if (offset)
    *offset = 0;

  if ((flags & IMGXFER_COMPARE_STRICT) && size1 != size2)
    {
      *result = IMGXFER_COMPARE_SIZE_DIFFERS;
      if (offset)
        *offset = MIN (size1, size2);
      return TRUE;
    }

  limit = MAX (size1, size2);
  if ((flags & IMGXFER_COMPARE_STRICT)
      && !find_allocation_difference (image1, image2, size1, &limit,
                                      cancellable, error))
    return FALSE;
  if (limit < MAX (size1, size2))
    *result = IMGXFER_COMPARE_ALLOCATION_DIFFERS;

  /* The contents before the allocation differs, if it does. */
  if (limit > 0)
    {
      guint64 end = limit;

      if (!find_content_difference (image1, image2, connections, &limit,
                                    cancellable, error))
        return FALSE;
      if (limit < end)
        *result = IMGXFER_COMPARE_CONTENT_DIFFERS;
    }

  if (offset && *result != IMGXFER_COMPARE_IDENTICAL)
    *offset = limit;
  return TRUE;
}
