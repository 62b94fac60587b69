/* imgxfer-driver-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Defined in imgxfer-builtin-drivers.c: registers the drivers linked into
 * the library. */
void _imgxfer_register_builtin_drivers (void);

/* The lower-case scheme of a URL, "" for a plain path. */
char *_imgxfer_url_scheme (const char *url);

/* The driver for image format @format, or G_TYPE_INVALID with an error
 * naming @url and the format. */
GType _imgxfer_driver_lookup_format_for (const char *url,
                                         const char *format,
                                         GError **error);

G_END_DECLS
