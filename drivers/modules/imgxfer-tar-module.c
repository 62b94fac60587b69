/* imgxfer-tar-module.c: the tar driver, with libarchive, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/tar/imgxfer-tar-backend.h"

static void
register_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_TAR_BACKEND);
}

IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
