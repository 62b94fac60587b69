/* imgxfer-bindings.h: calls shaped for language bindings
 *
 * The C API lends buffers to the library; bindings (Python through
 * PyGObject) cannot, so these variants return what they read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-source.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_ALL
GBytes *imgxfer_source_read_bytes (ImgxferSource *self,
                                   gsize length,
                                   guint64 offset,
                                   GCancellable *cancellable,
                                   GError **error);

G_END_DECLS
