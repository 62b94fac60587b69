/* imgxfer-builtin-drivers.c: the drivers linked into libimgxfer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-driver.h>

#include "imgxfer-driver-private.h"

#include "drivers/file/imgxfer-file-backend.h"
#include "drivers/tar/imgxfer-tar-backend.h"
#include "drivers/nbd/imgxfer-nbd-backend.h"
#include "drivers/qemu/imgxfer-qemu-backend.h"
#include "drivers/memory/imgxfer-memory-backend.h"

/* Order matters only between drivers that claim the same scheme. */
void
_imgxfer_register_builtin_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_FILE_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_TAR_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_NBD_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_QEMU_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_MEMORY_BACKEND);
}
