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

G_END_DECLS
