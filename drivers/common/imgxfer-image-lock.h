/* imgxfer-image-lock.h: qemu's image locks, for the drivers that write
 * local files (file, the qcow2 writer)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _ImgxferImageLock ImgxferImageLock;

/* Takes the locks qemu takes on an image file it writes, on @fd (a
 * regular file or block device open as @path), and keeps them until the
 * last reference is dropped, whatever happens to @fd. Fails with
 * IMGXFER_ERROR_IN_USE, taking nothing, when another process (a virtual
 * machine, qemu-nbd, another imgxfer) writes the image or forbids writing
 * it; other descriptors of the same file in this process count as other
 * users too, so clones share their parent's lock. */
ImgxferImageLock *_imgxfer_image_lock_for_write (int fd, const char *path,
                                                 GError **error);

ImgxferImageLock *_imgxfer_image_lock_ref (ImgxferImageLock *lock);
void _imgxfer_image_lock_unref (ImgxferImageLock *lock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferImageLock, _imgxfer_image_lock_unref)

G_END_DECLS
