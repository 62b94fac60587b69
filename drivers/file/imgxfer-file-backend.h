/* imgxfer-file-backend.h: images in local files and block devices
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_FILE_BACKEND (imgxfer_file_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferFileBackend, imgxfer_file_backend, IMGXFER,
                      FILE_BACKEND, ImgxferBackend)

/* The class's create and info (imgxfer-file-image.c). */
ImgxferBackend *_imgxfer_file_create (
    ImgxferBackendClass *klass, const char *url, const char *format,
    guint64 size, const char *backing_file, const char *backing_format,
    ImgxferOpenOptions *options, GCancellable *cancellable, GError **error);
JsonNode *_imgxfer_file_info (ImgxferBackendClass *klass, const char *url,
                              ImgxferOpenOptions *options,
                              GCancellable *cancellable, GError **error);

G_END_DECLS
