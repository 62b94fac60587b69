/* imgxfer-qemu-chain.h: the files of a backing chain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The layers of the image qemu opens as @filename, the image itself
 * first, as `qemu-img info --backing-chain` describes them. */
JsonArray *_imgxfer_qemu_backing_chain (const char *filename,
                                        GCancellable *cancellable,
                                        GError **error);

/* Adds to @files the file of each backing layer below the image qemu
 * opens as @filename, as `qemu-img info --backing-chain` names them. */
gboolean _imgxfer_qemu_add_chain_files (const char *filename, GPtrArray *files,
                                        GCancellable *cancellable,
                                        GError **error);

G_END_DECLS
