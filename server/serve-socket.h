/* serve-socket.h: what the kernel knows of a client socket's traffic
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bytes the client of TCP socket @fd acknowledged and sent so far,
 * both counted by the kernel as they cross the wire, before the daemon
 * reads them or the client's program takes them; FALSE when @fd is no
 * TCP socket. */
gboolean serve_socket_tcp_bytes (int fd, guint64 *bytes);

G_END_DECLS
