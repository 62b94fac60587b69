/* imgxfer-qemu-nbd-url.h: an image format stacked on an NBD export, as
 * qemu opens it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Whether @url names an NBD export, in any form the nbd driver takes
 * (nbds:// and qemu's nbd:unix: forms too). */
gboolean _imgxfer_qemu_is_nbd_url (const char *url);

/* The json: pseudo-filename under which qemu opens the NBD export @url
 * (any form the nbd driver takes) as @format, top layer only when
 * @shallow. Fails with IMGXFER_ERROR_NOT_SUPPORTED for URLs qemu cannot
 * reach without more setup (TLS, vsock) and for other schemes. */
char *_imgxfer_qemu_nbd_filename (const char *url, const char *format,
                                  gboolean shallow, GError **error);

/* Sets @error to say that @format cannot be read over @url, and returns
 * NULL. */
char *_imgxfer_qemu_url_not_supported (const char *url, const char *format,
                                       GError **error);

G_END_DECLS
