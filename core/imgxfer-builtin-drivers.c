/* imgxfer-builtin-drivers.c: the drivers linked into libimgxfer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-driver.h>

#include "imgxfer-driver-private.h"

#include "drivers/file/imgxfer-file-backend.h"
#include "drivers/memory/imgxfer-memory-backend.h"

/* Only the drivers every program needs and that need no library of their
 * own; nbd, qemu and tar are modules (drivers/modules). Order matters
 * only between drivers that claim the same scheme. */
void
_imgxfer_register_builtin_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_FILE_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_MEMORY_BACKEND);
}
