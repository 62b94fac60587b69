/* imgxfer-qemu-map.h: where a qcow2 image keeps its data clusters, to
 * read them without qemu
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/imgxfer-local-bytes-private.h"

G_BEGIN_DECLS

#define IMGXFER_TYPE_QEMU_MAP (imgxfer_qemu_map_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferQemuMap, imgxfer_qemu_map, IMGXFER, QEMU_MAP,
                      GObject)

/* Asks `qemu-img map` where the qcow2 image that qemu names @filename (as
 * _imgxfer_local_bytes_qemu_filename() makes it, from @bytes) and its
 * local qcow2 and raw backing files store guest data as it is, and opens
 * them to read it. The images must not change while the map lives: qemu
 * has them open read-only, which keeps writers away. Fails with
 * IMGXFER_ERROR_NOT_SUPPORTED when the top's data lies in another file
 * (an external data file); a backing file's data in another file is left
 * to qemu. */
ImgxferQemuMap *imgxfer_qemu_map_new (const ImgxferLocalBytes *bytes,
                                      const char *filename,
                                      GCancellable *cancellable,
                                      GError **error);

/* How many bytes from guest @offset, at most @length, are read the same
 * way: from the image file with imgxfer_qemu_map_pread() when *@direct
 * is set, through qemu otherwise. */
gsize imgxfer_qemu_map_next_run (ImgxferQemuMap *self, guint64 offset,
                                 gsize length, gboolean *direct);

/* Reads guest bytes that imgxfer_qemu_map_next_run() found direct.
 * Thread-safe. */
gboolean imgxfer_qemu_map_pread (ImgxferQemuMap *self, void *buffer,
                                 gsize length, guint64 offset, GError **error);

G_END_DECLS
