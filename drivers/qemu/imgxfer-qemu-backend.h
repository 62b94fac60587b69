/* imgxfer-qemu-backend.h: qemu image formats through qemu-nbd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "drivers/nbd/imgxfer-nbd-backend.h"

G_BEGIN_DECLS

#define IMGXFER_TYPE_QEMU_BACKEND (imgxfer_qemu_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferQemuBackend, imgxfer_qemu_backend, IMGXFER,
                      QEMU_BACKEND, ImgxferNbdBackend)

/* The class methods (imgxfer-qemu-create.c, imgxfer-qemu-info.c). */
ImgxferBackend *_imgxfer_qemu_create (
    ImgxferBackendClass *klass, const char *url, const char *format,
    guint64 size, const char *backing_file, const char *backing_format,
    ImgxferOpenOptions *options, GCancellable *cancellable, GError **error);
JsonNode *_imgxfer_qemu_info (ImgxferBackendClass *klass, const char *url,
                              ImgxferOpenOptions *options,
                              GCancellable *cancellable, GError **error);
JsonNode *_imgxfer_qemu_measure (ImgxferBackendClass *klass, const char *url,
                                 ImgxferOpenOptions *options,
                                 const char *target_format,
                                 GCancellable *cancellable, GError **error);

G_END_DECLS
