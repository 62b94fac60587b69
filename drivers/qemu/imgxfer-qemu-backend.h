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

/* The qemu block-layer filename serving @format from the byte range
 * @offset..+@size of the file @path (whose size is @file_size), top layer
 * only when @shallow: a json: pseudo-filename. A %NULL @format lets qemu
 * probe it (qemu-img info). */
char *_imgxfer_qemu_image_filename (const char *format, const char *path,
                                    guint64 offset, guint64 size,
                                    guint64 file_size, gboolean shallow);

G_END_DECLS
