/* imgxfer-imageio-module.c: the imageio driver, with libsoup, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/imageio/imgxfer-imageio-backend.h"

IMGXFER_DEFINE_DRIVER_MODULE_TYPES (imgxfer_imageio_backend_get_type)
