/* imgxfer-nbd-backend.h: images on NBD servers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_NBD_BACKEND (imgxfer_nbd_backend_get_type ())
G_DECLARE_DERIVABLE_TYPE (ImgxferNbdBackend, imgxfer_nbd_backend, IMGXFER,
                          NBD_BACKEND, ImgxferBackend)

/**
 * ImgxferNbdBackendClass:
 * @parent_class: the parent class
 * @get_server_messages: optional; see the field's comment
 * @owns_server: see the field's comment
 *
 * Derivable so that drivers which start their own NBD server (qemu) keep
 * only the server's lifetime and reuse the whole NBD client.
 */
struct _ImgxferNbdBackendClass
{
  ImgxferBackendClass parent_class;

  /* What the server reported lately (a child's stderr), appended to I/O
   * error messages; %NULL or "" when there is nothing to add. */
  char *(*get_server_messages) (ImgxferNbdBackend *self);

  /* TRUE when the server lives and dies with the backend (one the driver
   * started on a local file): nothing is retried, since nothing would
   * answer a new connection, and the errors are the file's, which sending
   * again only repeats. */
  gboolean owns_server;

  /*< private >*/
  gpointer padding[2];
};

/* For subclasses, from their open vfunc: connects to @uri (any form the
 * nbd driver accepts) and declares size, capabilities, block sizes and
 * connections. Errors name the backend's own URL, not @uri. The
 * handshake is cancellable and fails after 30 s without an answer, or
 * after 5 s without the server's greeting on a clone made by the nbd
 * driver's clone vfunc. */
gboolean _imgxfer_nbd_backend_connect (ImgxferNbdBackend *self, const char *uri,
                                       GCancellable *cancellable,
                                       GError **error);

G_END_DECLS
