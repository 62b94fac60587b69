/* imgxfer-driver.h: the driver registry and driver modules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gmodule.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

/**
 * IMGXFER_DRIVER_ABI_VERSION:
 *
 * Bumped whenever a change to #ImgxferBackendClass, #ImgxferSourceInterface
 * or #ImgxferDestinationInterface breaks compiled drivers. A module built
 * against another ABI is refused.
 */
#define IMGXFER_DRIVER_ABI_VERSION 1

/**
 * IMGXFER_DEFINE_DRIVER_MODULE:
 * @register_func: a `void (*)(void)` that calls imgxfer_driver_register()
 *
 * Put this once in a driver module (a shared object in
 * `$libdir/imgxfer-1/drivers` or in a folder of `IMGXFER_DRIVER_PATH`).
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
