/* imgxfer-extent.c: extents and arrays of them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-extent.h>

G_DEFINE_BOXED_TYPE (ImgxferExtent, imgxfer_extent, imgxfer_extent_copy,
                     imgxfer_extent_free)

/**
 * imgxfer_extent_copy:
 * @extent: an extent
 *
 * Copies an extent into newly allocated memory; for #GValue and language
 * bindings, which hold extents as boxed values.
 *
 * Returns: (transfer full): a copy of @extent, to free with
 *   imgxfer_extent_free()
 *
 * Since: 0.1
 */
ImgxferExtent *
imgxfer_extent_copy (const ImgxferExtent *extent)
{
  return g_memdup2 (extent, sizeof *extent);
}

/**
 * imgxfer_extent_free:
 * @extent: (transfer full): an extent from imgxfer_extent_copy()
 *
 * Frees an extent that imgxfer_extent_copy() allocated.
 *
 * Since: 0.1
 */
void
imgxfer_extent_free (ImgxferExtent *extent)
{
  g_free (extent);
}

/**
 * imgxfer_extents_new:
 *
 * Makes an empty array of #ImgxferExtent, as imgxfer_extents_append() and
 * the drivers' #ImgxferSourceInterface.extents fill.
 *
 * Returns: (transfer container) (element-type ImgxferExtent): an empty
 *   array; free it with g_array_unref()
 *
 * Since: 0.1
 */
GArray *
imgxfer_extents_new (void)
{
  return g_array_new (FALSE, FALSE, sizeof (ImgxferExtent));
}

/**
 * imgxfer_extents_append:
 * @extents: (element-type ImgxferExtent): an array of extents
 * @start: where the new extent starts
 * @length: its length; an empty extent is ignored
 * @flags: what it is
 *
 * Appends an extent, merging it into the last one when they touch and
 * have the same flags. Drivers call it from their
 * #ImgxferSourceInterface.extents.
 *
 * Since: 0.1
 */
void
imgxfer_extents_append (GArray *extents,
                        guint64 start,
                        guint64 length,
                        ImgxferExtentFlags flags)
{
  if (length == 0)
    return;

  if (extents->len > 0)
    {
      ImgxferExtent *last
          = &g_array_index (extents, ImgxferExtent, extents->len - 1);

      if (last->start + last->length == start && last->flags == flags)
        {
          last->length += length;
          return;
        }
    }

  ImgxferExtent extent = { start, length, flags };
  g_array_append_val (extents, extent);
}
