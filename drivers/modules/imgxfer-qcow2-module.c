/* imgxfer-qcow2-module.c: the qcow2 driver, as a module
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/qcow2/imgxfer-qcow2-writer.h"

static void
register_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_QCOW2_WRITER);
}

IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
