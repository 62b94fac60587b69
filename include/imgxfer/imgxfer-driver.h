/* imgxfer-driver.h: the driver registry and driver modules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gmodule.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-driver
 * @title: The driver registry
 * @short_description: finding the driver of a URL or format; driver modules
 * @see_also: #ImgxferDriverSpec, #ImgxferBackendClass
 *
 * The registry knows every driver: those built into the library first,
 * then those of the modules (shared objects) in each folder of the
 * `IMGXFER_DRIVER_PATH` environment variable (separated by ':'), then
 * those in the library's drivers folder (`$libdir/imgxfer-1/drivers`).
 * When several drivers open the same scheme or format, the first one
 * wins. The registry starts on its first use; its functions are thread
 * safe.
 *
 * A driver module defines its backend types and registers them with
 * imgxfer_driver_register() from the function it names in
 * IMGXFER_DEFINE_DRIVER_MODULE(). A module built for another
 * %IMGXFER_DRIVER_ABI_VERSION is skipped with a warning. A module stays
 * loaded once loaded: types cannot be unregistered.
 */

G_BEGIN_DECLS

/**
 * IMGXFER_DRIVER_ABI_VERSION:
 *
 * Bumped whenever a change to #ImgxferBackendClass, #ImgxferSourceInterface
 * or #ImgxferDestinationInterface breaks compiled drivers. A module built
 * against another ABI is refused with a warning.
 *
 * Since: 0.1
 */
#define IMGXFER_DRIVER_ABI_VERSION 1

/**
 * IMGXFER_DEFINE_DRIVER_MODULE:
 * @register_func: a `void (*)(void)` that calls imgxfer_driver_register()
 *
 * Put this once in a driver module (a shared object in
 * `$libdir/imgxfer-1/drivers` or in a folder of `IMGXFER_DRIVER_PATH`). It
 * exports the driver ABI the module was built for
 * (%IMGXFER_DRIVER_ABI_VERSION) and the entry point the registry calls
 * once, when it loads the module: @register_func registers each of the
 * module's drivers.
 *
 * |[<!-- language="C" -->
 * static void
 * register_drivers (void)
 * {
 *   imgxfer_driver_register (pattern_backend_get_type ());
 * }
 *
 * IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
 * ]|
 *
 * IMGXFER_DEFINE_DRIVER_MODULE_TYPES() writes such a function for a
 * module that only registers its drivers.
 *
 * A module may come with a description, a key file `NAME.driver` beside
 * it, so that the registry loads the module only when a lookup needs its
 * driver (see the guide "Writing a driver").
 *
 * Since: 0.1
 */
#define IMGXFER_DEFINE_DRIVER_MODULE(register_func)                          \
  G_MODULE_EXPORT const guint32 imgxfer_driver_module_abi                    \
      = IMGXFER_DRIVER_ABI_VERSION;                                          \
  G_MODULE_EXPORT void imgxfer_driver_module_register (void);                \
  void imgxfer_driver_module_register (void) { register_func (); }

/**
 * IMGXFER_DEFINE_DRIVER_MODULE_TYPES:
 * @...: the type functions of the module's drivers, in resolution order
 *   (`my_backend_get_type`)
 *
 * IMGXFER_DEFINE_DRIVER_MODULE() with a register function that registers
 * these drivers: the whole entry point of most modules.
 *
 * Since: 0.1
 */
#define IMGXFER_DEFINE_DRIVER_MODULE_TYPES(...)                              \
  static void imgxfer_driver_module_register_types (void)                    \
  {                                                                          \
    GType (*const get_types[]) (void) = { __VA_ARGS__ };                     \
    for (gsize i = 0; i < G_N_ELEMENTS (get_types); i++)                     \
      imgxfer_driver_register (get_types[i] ());                             \
  }                                                                          \
  IMGXFER_DEFINE_DRIVER_MODULE (imgxfer_driver_module_register_types)

IMGXFER_AVAILABLE_IN_ALL
void imgxfer_driver_register (GType backend_type);

IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_driver_lookup_url (const char *url, GError **error);
IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_driver_lookup_format (const char *format);
IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_driver_lookup_name (const char *name);
IMGXFER_AVAILABLE_IN_0_1
GType *imgxfer_driver_list_format (const char *format, guint *n_drivers);

IMGXFER_AVAILABLE_IN_ALL
GType *imgxfer_driver_list (guint *n_drivers);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_driver_get_module_path (GType backend_type);

G_END_DECLS
