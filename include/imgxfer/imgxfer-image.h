/* imgxfer-image.h: opening, creating and describing images
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-extent.h>
#include <imgxfer/imgxfer-open-options.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_ALL
ImgxferBackend *imgxfer_open (const char *url,
                              ImgxferOpenOptions *options,
                              GCancellable *cancellable,
                              GError **error);

IMGXFER_AVAILABLE_IN_ALL
ImgxferBackend *imgxfer_create (const char *url,
                                const char *format,
                                guint64 size,
                                const char *backing_file,
                                const char *backing_format,
                                ImgxferOpenOptions *options,
                                GCancellable *cancellable,
                                GError **error);

IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_probe_format (ImgxferBackend *source,
                                  GCancellable *cancellable,
                                  GError **error);

/* qemu-img info / measure as structured data, with "member-offset" and
 * "member-size" when a member was given. */
IMGXFER_AVAILABLE_IN_ALL
JsonNode *imgxfer_image_info (const char *url,
                              ImgxferOpenOptions *options,
                              GCancellable *cancellable,
                              GError **error);
IMGXFER_AVAILABLE_IN_ALL
JsonNode *imgxfer_image_measure (const char *url,
                                 ImgxferOpenOptions *options,
                                 const char *target_format,
                                 GCancellable *cancellable,
                                 GError **error);

IMGXFER_AVAILABLE_IN_ALL
GArray *imgxfer_image_extents (ImgxferBackend *source,
                               ImgxferExtentContext context,
                               GCancellable *cancellable,
                               GError **error);

/* The extents as the imageio protocol and `imgxfer extents` print them:
 * [{"start","length","zero","hole"}] or [{"start","length","dirty","zero"}]. */
IMGXFER_AVAILABLE_IN_ALL
JsonNode *imgxfer_extents_to_json (GArray *extents,
                                   ImgxferExtentContext context);

G_END_DECLS
