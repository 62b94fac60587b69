/* bad-abi-module.c: a driver module built for another driver ABI
 *
 * The loader must refuse it with a warning and never call its register
 * function: a module built against other class layouts would crash.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include <imgxfer/imgxfer.h>

G_MODULE_EXPORT const guint32 imgxfer_driver_module_abi
    = IMGXFER_DRIVER_ABI_VERSION + 1;

G_MODULE_EXPORT void imgxfer_driver_module_register (void);

void
imgxfer_driver_module_register (void)
{
  /* Reaching this is the failure the test looks for. */
  abort ();
}
