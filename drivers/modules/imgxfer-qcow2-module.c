/* imgxfer-qcow2-module.c: the qcow2 driver, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/qcow2/imgxfer-qcow2-writer.h"

IMGXFER_DEFINE_DRIVER_MODULE_TYPES (imgxfer_qcow2_writer_get_type)
