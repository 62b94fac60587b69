/* imgxfer-nbd-module.c: the nbd and qemu drivers, as one module
 *
 * The qemu backend is an nbd backend that starts its own qemu-nbd, so the
 * two drivers share their code and libnbd: one module, two descriptions
 * (nbd.driver and qemu.driver).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/nbd/imgxfer-nbd-backend.h"
#include "drivers/qemu/imgxfer-qemu-backend.h"

IMGXFER_DEFINE_DRIVER_MODULE_TYPES (imgxfer_nbd_backend_get_type,
                                    imgxfer_qemu_backend_get_type)
