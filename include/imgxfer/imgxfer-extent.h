/* imgxfer-extent.h: a run of bytes with the same allocation state
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-extent
 * @title: ImgxferExtent
 * @short_description: a run of bytes with the same allocation state
 * @see_also: imgxfer_source_extents(), imgxfer_image_extents()
 *
 * An image is described by an array of #ImgxferExtent: runs of data,
 * zeroes and holes (%IMGXFER_EXTENT_CONTEXT_ZERO), or of dirty and clean
 * ranges of a bitmap (%IMGXFER_EXTENT_CONTEXT_DIRTY). A hole is a range
 * not allocated in the image's top layer, through which a backing file
 * shows; a range of a raw file that reads as zeroes is zero, not a hole.
 */

G_BEGIN_DECLS

/**
 * ImgxferExtentFlags:
 * @IMGXFER_EXTENT_DATA: no flag: the range holds data
 * @IMGXFER_EXTENT_ZERO: the range reads as zeroes
 * @IMGXFER_EXTENT_HOLE: the range is not allocated in this layer, so a
 *   backing file shows through; a shallow copy leaves it unallocated.
 *   A hole in a raw file is %IMGXFER_EXTENT_ZERO, not a hole.
 * @IMGXFER_EXTENT_DIRTY: the range changed since the bitmap was created
 *   (only in the %IMGXFER_EXTENT_CONTEXT_DIRTY context)
 *
 * What the bytes of an #ImgxferExtent are. %IMGXFER_EXTENT_ZERO and
 * %IMGXFER_EXTENT_HOLE may come together (an unallocated range that reads
 * as zeroes).
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_EXTENT_DATA = 0,
  IMGXFER_EXTENT_ZERO = 1 << 0,
  IMGXFER_EXTENT_HOLE = 1 << 1,
  IMGXFER_EXTENT_DIRTY = 1 << 2,
} ImgxferExtentFlags;

/**
 * ImgxferExtentContext:
 * @IMGXFER_EXTENT_CONTEXT_ZERO: allocation: data, zero and hole
 * @IMGXFER_EXTENT_CONTEXT_DIRTY: dirty or clean per the source's bitmap,
 *   with %IMGXFER_EXTENT_ZERO from the allocation
 *
 * Which description of an image imgxfer_source_extents() gives, as the
 * `context` query parameter of the imageio protocol names them.
 *
 * Since: 0.1
 */
typedef enum
{
  IMGXFER_EXTENT_CONTEXT_ZERO,
  IMGXFER_EXTENT_CONTEXT_DIRTY,
} ImgxferExtentContext;

/**
 * ImgxferExtent:
 * @start: offset of the first byte
 * @length: number of bytes
 * @flags: what the bytes are
 *
 * A run of bytes of an image with the same allocation state. Arrays of
 * extents (#GArray of #ImgxferExtent, from imgxfer_extents_new()) are
 * contiguous and ordered, neighbours with the same flags merged.
 *
 * Since: 0.1
 */
typedef struct _ImgxferExtent ImgxferExtent;

struct _ImgxferExtent
{
  guint64 start;
  guint64 length;
  ImgxferExtentFlags flags;
};

/**
 * IMGXFER_TYPE_EXTENT:
 *
 * The boxed #GType of #ImgxferExtent.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_EXTENT (imgxfer_extent_get_type ())

IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_extent_get_type (void) G_GNUC_CONST;
IMGXFER_AVAILABLE_IN_ALL
ImgxferExtent *imgxfer_extent_copy (const ImgxferExtent *extent);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_extent_free (ImgxferExtent *extent);

IMGXFER_AVAILABLE_IN_ALL
GArray *imgxfer_extents_new (void);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_extents_append (GArray *extents,
                             guint64 start,
                             guint64 length,
                             ImgxferExtentFlags flags);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferExtent, imgxfer_extent_free)

G_END_DECLS
