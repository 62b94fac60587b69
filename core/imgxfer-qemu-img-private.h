/* imgxfer-qemu-img-private.h: running qemu-img
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs qemu-img with @argv (without the program name). On failure the
 * error carries qemu-img's own message. */
gboolean _imgxfer_qemu_img (const char *const *argv,
                            char **standard_output,
                            GCancellable *cancellable,
                            GError **error);

G_END_DECLS
