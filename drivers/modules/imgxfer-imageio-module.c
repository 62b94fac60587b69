/* imgxfer-imageio-module.c: the imageio driver, with libsoup, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/imageio/imgxfer-imageio-backend.h"

static void
register_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_IMAGEIO_BACKEND);
}

IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
