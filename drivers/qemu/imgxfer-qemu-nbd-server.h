/* imgxfer-qemu-nbd-server.h: a private qemu-nbd child process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_QEMU_NBD_SERVER (imgxfer_qemu_nbd_server_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferQemuNbdServer, imgxfer_qemu_nbd_server, IMGXFER,
                      QEMU_NBD_SERVER, GObject)

/* Starts qemu-nbd with @args (what to serve and how; the socket is added
 * here) on a unix socket in a new private directory, and waits until it
 * accepts connections. @name (the image's URL) prefixes error messages,
 * which carry qemu-nbd's own. The caller is its first user; the last
 * reference removes the directory (and stops the process if no user
 * released it). */
ImgxferQemuNbdServer *imgxfer_qemu_nbd_server_start (const char *name,
                                                     const char *const *args,
                                                     GCancellable *cancellable,
                                                     GError **error);

/* One more backend uses the process (a clone). */
void imgxfer_qemu_nbd_server_hold (ImgxferQemuNbdServer *self);
/* A backend is done with the process: the last one stops it, and fails
 * when qemu-nbd did not end cleanly on SIGTERM (it had crashed, or had to
 * be killed), with its messages. */
gboolean imgxfer_qemu_nbd_server_release (ImgxferQemuNbdServer *self,
                                          GError **error);

/* qemu-nbd's latest messages (its stderr), on one line; "" if none. */
char *imgxfer_qemu_nbd_server_get_messages (ImgxferQemuNbdServer *self);

/* "nbd+unix:///?socket=PATH" */
const char *imgxfer_qemu_nbd_server_get_uri (ImgxferQemuNbdServer *self);

/* Adds to @files the path of every file and block device qemu-nbd holds
 * open: the image and all it reads (backing files, data files, vmdk
 * extents), as qemu opened them. */
gboolean imgxfer_qemu_nbd_server_add_open_files (ImgxferQemuNbdServer *self,
                                                 GPtrArray *files,
                                                 GError **error);

G_END_DECLS
