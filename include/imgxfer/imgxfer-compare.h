/* imgxfer-compare.h: comparing two images, as qemu-img compare does
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-compare
 * @title: Comparing images
 * @short_description: comparing two images, as qemu-img compare does
 *
 * imgxfer_compare() tells whether two images show the guest the same
 * data, whatever their formats, reading only what is not zero in both.
 */

G_BEGIN_DECLS

/**
 * ImgxferCompareFlags:
 * @IMGXFER_COMPARE_NONE: compare what the guest sees; an image larger
 *   than the other is identical when its extra part reads as zeroes
 * @IMGXFER_COMPARE_STRICT: also compare sizes, and allocation: a range
 *   must be data, zero or a hole (unallocated) in both images
 *
 * How imgxfer_compare() compares.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_COMPARE_NONE = 0,
  IMGXFER_COMPARE_STRICT = 1 << 0,
} ImgxferCompareFlags;

/**
 * ImgxferCompareResult:
 * @IMGXFER_COMPARE_IDENTICAL: the images are identical
 * @IMGXFER_COMPARE_CONTENT_DIFFERS: they read differently; the offset is
 *   that of the first byte that differs
 * @IMGXFER_COMPARE_ALLOCATION_DIFFERS: in strict mode, they read the
 *   same up to the offset, where one has data, zeroes or a hole and the
 *   other not
 * @IMGXFER_COMPARE_SIZE_DIFFERS: in strict mode, their sizes differ; the
 *   offset is the smaller size
 *
 * What imgxfer_compare() found.
 *
 * Since: 0.1
 */
typedef enum
{
  IMGXFER_COMPARE_IDENTICAL,
  IMGXFER_COMPARE_CONTENT_DIFFERS,
  IMGXFER_COMPARE_ALLOCATION_DIFFERS,
  IMGXFER_COMPARE_SIZE_DIFFERS,
} ImgxferCompareResult;

IMGXFER_AVAILABLE_IN_0_1
gboolean imgxfer_compare (ImgxferBackend *image1, ImgxferBackend *image2,
                          ImgxferCompareFlags flags, guint connections,
                          ImgxferCompareResult *result, guint64 *offset,
                          GCancellable *cancellable, GError **error);

G_END_DECLS
