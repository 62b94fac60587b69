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

static void
register_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_NBD_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_QEMU_BACKEND);
}

IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
