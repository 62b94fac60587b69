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

/**
 * SECTION:imgxfer-image
 * @title: Images
 * @short_description: opening, creating and describing images
 * @see_also: #ImgxferOpenOptions, #ImgxferBackend
 *
 * imgxfer_open() opens the image a path or URL names, through the driver
 * registered for its scheme and, when its format is not raw, the drivers
 * of its format stacked on top; imgxfer_create() makes a new one.
 * imgxfer_image_info() and imgxfer_image_measure() describe an image as
 * `qemu-img info` and `qemu-img measure` do, as JSON objects in their keys,
 * and imgxfer_image_extents() lists its data, zero and hole ranges.
 *
 * |[<!-- language="C" -->
 * g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
 * g_autoptr (ImgxferBackend) image = NULL;
 *
 * imgxfer_open_options_set_member (options, "disk.qcow2");
 * image = imgxfer_open ("vm.ova", options, NULL, &error);
 * if (image == NULL)
 *   return FALSE;
 * g_print ("%" G_GUINT64_FORMAT " bytes\n", imgxfer_backend_get_size (image));
 * ]|
 */

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
