/* imgxfer-qemu-chain.h: the files of a backing chain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Adds to @files the file of each backing layer below the image qemu
 * opens as @filename, as `qemu-img info --backing-chain` names them. */
gboolean _imgxfer_qemu_add_chain_files (const char *filename, GPtrArray *files,
                                        GCancellable *cancellable,
                                        GError **error);

G_END_DECLS
