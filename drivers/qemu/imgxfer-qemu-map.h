/* imgxfer-qemu-map.h: where a qcow2 image keeps its data clusters, to
 * read them without qemu
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "imgxfer-qemu-bytes.h"

G_BEGIN_DECLS

#define IMGXFER_TYPE_QEMU_MAP (imgxfer_qemu_map_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferQemuMap, imgxfer_qemu_map, IMGXFER, QEMU_MAP,
                      GObject)

/* A map of the qcow2 image that qemu names @filename (as
 * _imgxfer_local_bytes_qemu_filename() makes it, from @bytes, without its
 * backing chain when @shallow), loaded by imgxfer_qemu_map_load(). Until
 * then, and if loading fails, it sends every read to qemu. */
ImgxferQemuMap *imgxfer_qemu_map_new (const ImgxferLocalBytes *bytes,
                                      const char *filename, gboolean shallow);

/* Asks `qemu-img map` where the image and its local qcow2 and raw
 * backing files store guest data as it is, and opens them to read it, on
 * the first call; later ones return at once, from any thread. The images
 * must not change while the map lives: qemu has them open read-only,
 * which keeps writers away. The data of an image with an external data
 * file is left to qemu, and so is everything when qemu-img fails or
 * @cancellable fires. */
void imgxfer_qemu_map_load (ImgxferQemuMap *self, GCancellable *cancellable);

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
