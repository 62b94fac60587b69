/* test-drivers.c: the driver modules' code, linked into the tests
 *
 * The tests link the library's static copy to reach its internals, so
 * they cannot load the driver modules, which bring the shared library
 * along (a second ImgxferBackend type). They link the drivers' code
 * instead and register it before anything looks a driver up; the
 * registry then takes these types in place of the described modules.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/imageio/imgxfer-imageio-backend.h"
#include "drivers/nbd/imgxfer-nbd-backend.h"
#include "drivers/qcow2/imgxfer-qcow2-writer.h"
#include "drivers/qemu/imgxfer-qemu-backend.h"
#include "drivers/tar/imgxfer-tar-backend.h"

/* Before main(), so that no test can look a driver up first. */
static void __attribute__ ((constructor))
register_linked_drivers (void)
{
  imgxfer_driver_register (IMGXFER_TYPE_TAR_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_NBD_BACKEND);
  /* Before qemu, as the descriptions order them. */
  imgxfer_driver_register (IMGXFER_TYPE_QCOW2_WRITER);
  imgxfer_driver_register (IMGXFER_TYPE_QEMU_BACKEND);
  imgxfer_driver_register (IMGXFER_TYPE_IMAGEIO_BACKEND);
}
