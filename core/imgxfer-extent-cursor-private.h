/* imgxfer-extent-cursor-private.h: an image's extents, looked up by offset
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-extent.h>

G_BEGIN_DECLS

/* The extents of one image, asked for @look_ahead bytes at a time and
 * kept until a lookup falls outside them. Lookups are cheapest going
 * forward; the image must not change meanwhile. */
typedef struct
{
  ImgxferBackend *image; /* not owned */
  guint64 size;          /* the image's */
  guint64 look_ahead;
  GArray *extents; /* from start to end */
  guint64 start;
  guint64 end;
  guint index; /* where the last lookup ended */
} ImgxferExtentCursor;

void _imgxfer_extent_cursor_init (ImgxferExtentCursor *cursor,
                                  ImgxferBackend *image, guint64 look_ahead);
void _imgxfer_extent_cursor_clear (ImgxferExtentCursor *cursor);

/* The image's extent at @offset, which is below the image's size. */
const ImgxferExtent *_imgxfer_extent_cursor_at (ImgxferExtentCursor *cursor,
                                                guint64 offset,
                                                GCancellable *cancellable,
                                                GError **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ImgxferExtentCursor,
                                  _imgxfer_extent_cursor_clear)

G_END_DECLS
