/* imgxfer-tar-module.c: the tar driver, with libarchive, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/tar/imgxfer-tar-backend.h"

IMGXFER_DEFINE_DRIVER_MODULE_TYPES (imgxfer_tar_backend_get_type)
