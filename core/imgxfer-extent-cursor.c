/* imgxfer-extent-cursor.c: an image's extents, looked up by offset
 *
 * The comparison walks two images' extents in step, and its target looks
 * up the other image's extent under each range it is given: both ask
 * for the extents ahead in large pieces and keep them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-source.h>

#include "imgxfer-extent-cursor-private.h"

void
_imgxfer_extent_cursor_init (ImgxferExtentCursor *cursor, ImgxferBackend *image,
                             guint64 look_ahead)
{
  *cursor = (ImgxferExtentCursor){
    .image = image,
    .size = imgxfer_backend_get_size (image),
    .look_ahead = look_ahead,
  };
}

void
_imgxfer_extent_cursor_clear (ImgxferExtentCursor *cursor)
{
  g_clear_pointer (&cursor->extents, g_array_unref);
}

/* Asks for the extents from @offset on, in place of those kept. */
static gboolean
refill (ImgxferExtentCursor *cursor, guint64 offset, GCancellable *cancellable,
        GError **error)
{
  GArray *extents = imgxfer_source_extents (
      IMGXFER_SOURCE (cursor->image), IMGXFER_EXTENT_CONTEXT_ZERO, offset,
      MIN (cursor->look_ahead, cursor->size - offset), cancellable, error);
  const ImgxferExtent *last;

  if (extents == NULL)
    return FALSE;
  g_clear_pointer (&cursor->extents, g_array_unref);
  cursor->extents = extents;
  last = &g_array_index (extents, ImgxferExtent, extents->len - 1);
  cursor->start = offset;
  cursor->end = last->start + last->length;
  cursor->index = 0;
  return TRUE;
}

const ImgxferExtent *
_imgxfer_extent_cursor_at (ImgxferExtentCursor *cursor, guint64 offset,
                           GCancellable *cancellable, GError **error)
{
  const ImgxferExtent *e;

  if ((cursor->extents == NULL || offset < cursor->start
       || offset >= cursor->end)
      && !refill (cursor, offset, cancellable, error))
    return NULL;

  /* Lookups mostly go forward: start from the last one. */
  if (g_array_index (cursor->extents, ImgxferExtent, cursor->index).start
      > offset)
    cursor->index = 0;
  for (;; cursor->index++)
    {
      e = &g_array_index (cursor->extents, ImgxferExtent, cursor->index);
      if (offset < e->start + e->length)
        return e;
    }
}
