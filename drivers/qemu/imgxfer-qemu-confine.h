/* imgxfer-qemu-confine.h: images in archives read nothing outside them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "imgxfer-qemu-nbd-server.h"

G_BEGIN_DECLS

/* Refuses the image qemu opens as @filename (its backing file not opened)
 * when its header names a backing file. @name names the image in the
 * error, @archive the archive holding it (NULL: an NBD export). */
gboolean _imgxfer_qemu_check_no_backing (const char *name, const char *filename,
                                         const char *archive,
                                         GCancellable *cancellable,
                                         GError **error);

/* Refuses an image for which @server opened any file but @archive (NULL:
 * any file at all, for an image on an NBD export): a data file, a vmdk
 * extent. */
gboolean _imgxfer_qemu_check_files_in_archive (const char *name,
                                               ImgxferQemuNbdServer *server,
                                               const char *archive,
                                               GError **error);

G_END_DECLS
