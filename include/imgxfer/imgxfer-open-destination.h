/* imgxfer-open-destination.h: where a copy writes, decided once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-open-options.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-open-destination
 * @title: Destinations
 * @short_description: where a copy writes, decided once
 * @see_also: imgxfer_create(), #ImgxferCopy
 *
 * imgxfer_open_destination() opens or creates the image a copy writes,
 * with the policy of `imgxfer convert`: what is created and what is opened
 * as it is, and what is refused before anything is written (the source's
 * own files, an image in use, a destination too small).
 */

G_BEGIN_DECLS

/**
 * ImgxferDestinationFlags:
 * @IMGXFER_DESTINATION_NONE: create a local image (replacing a regular
 *   file there); open block devices, pipes and URLs as they are
 * @IMGXFER_DESTINATION_EXISTING: the image exists: open it, never create
 *   or replace it (`convert -n`)
 *
 * How imgxfer_open_destination() treats the image.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_DESTINATION_NONE = 0,
  IMGXFER_DESTINATION_EXISTING = 1 << 0,
} ImgxferDestinationFlags;

IMGXFER_AVAILABLE_IN_ALL
ImgxferBackend *
imgxfer_open_destination (const char *url, ImgxferOpenOptions *options,
                          guint64 size, ImgxferBackend *source,
                          const char *backing_file, const char *backing_format,
                          ImgxferDestinationFlags flags,
                          GCancellable *cancellable, GError **error);

G_END_DECLS
