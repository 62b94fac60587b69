/* imgxfer-qcow2-image.h: a new qcow2 image, written directly
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _ImgxferQcow2Image ImgxferQcow2Image;

ImgxferQcow2Image *_imgxfer_qcow2_image_create (const char *path, guint64 size,
                                                GError **error);
ImgxferQcow2Image *_imgxfer_qcow2_image_ref (ImgxferQcow2Image *self);
void _imgxfer_qcow2_image_unref (ImgxferQcow2Image *self);

/* The virtual size, rounded up to whole 512-byte sectors. */
guint64 _imgxfer_qcow2_image_get_size (ImgxferQcow2Image *self);
int _imgxfer_qcow2_image_get_fd (ImgxferQcow2Image *self);
const char *_imgxfer_qcow2_image_get_path (ImgxferQcow2Image *self);

/* Where in the image file the guest range @offset..+@length is, as runs
 * of consecutive file bytes. Clusters not allocated yet are allocated
 * (@allocate) or skipped. @func is called without the image's lock. */
typedef gboolean (*ImgxferQcow2RunFunc) (guint64 guest_offset,
                                         guint64 file_offset, gsize length,
                                         gpointer user_data, GError **error);

gboolean _imgxfer_qcow2_image_map (ImgxferQcow2Image *self, guint64 offset,
                                   guint64 length, gboolean allocate,
                                   ImgxferQcow2RunFunc func, gpointer user_data,
                                   GError **error);

/* Reads guest bytes as they are now: clusters not written yet read as
 * zeroes (imgxfer-qcow2-read.c). */
gboolean _imgxfer_qcow2_image_read (ImgxferQcow2Image *self, void *buffer,
                                    gsize length, guint64 offset,
                                    GError **error);

/* Appends the extents of the guest range to @extents: written clusters
 * are data, the others unallocated zeroes (as qemu says of them: no
 * layer holds them). */
gboolean _imgxfer_qcow2_image_extents (ImgxferQcow2Image *self, guint64 offset,
                                       guint64 length, GArray *extents,
                                       GError **error);

gboolean _imgxfer_qcow2_image_commit (ImgxferQcow2Image *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferQcow2Image, _imgxfer_qcow2_image_unref)

G_END_DECLS
