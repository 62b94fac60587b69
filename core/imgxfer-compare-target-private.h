/* imgxfer-compare-target-private.h: a destination that compares instead
 * of writing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_COMPARE_TARGET (_imgxfer_compare_target_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferCompareTarget, _imgxfer_compare_target, IMGXFER,
                      COMPARE_TARGET, ImgxferBackend)

/* A destination of @size bytes (at least @image's size) for the copy
 * engine: what is "written" to it is compared with @image, which reads
 * as zeroes past its end, and *@first_difference is lowered (atomically)
 * to the offset of the first byte found to differ. Ranges at or past
 * *@first_difference are not compared, so it serves as the copy's limit
 * (ImgxferCopyJob.limit). Its clones compare through clones of @image
 * and share @first_difference, which must outlive them all. */
ImgxferBackend *_imgxfer_compare_target_new (ImgxferBackend *image,
                                             guint64 size,
                                             guint64 *first_difference);

G_END_DECLS
