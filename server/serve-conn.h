/* serve-conn.h: the client connections of one server thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "serve-ticket.h"

G_BEGIN_DECLS

typedef struct _ServeConns ServeConns;

/* Follows the connections of @server (requests started and finished) and
 * closes those that sit idle, between requests or in the middle of a
 * request's headers, and those whose request waits for a client that
 * moves no byte: after the inactivity timeout of the tickets they used
 * (@default_timeout before any), or at once when the client has closed
 * its end (libsoup would keep them in CLOSE-WAIT). With @defer_accept
 * (the listening socket has TCP_DEFER_ACCEPT), a new connection without
 * data is shut down at once. With @verbose, a stalled request ended is
 * logged. Runs in the thread-default main context of the caller. */
ServeConns *serve_conns_new (SoupServer *server, guint default_timeout,
                             gboolean defer_accept, gboolean verbose);
/* Stops watching, while the server is still there; serve_conns_free()
 * after the server is gone. */
void serve_conns_stop (ServeConns *self);
void serve_conns_free (ServeConns *self);

/* Counts the connection of @msg among the connections of @ticket (GET
 * /tickets/ID "connections") until it closes. */
void serve_conns_use_ticket (SoupServerMessage *msg, ServeTicket *ticket);

/* The connection of @msg, as an opaque key (NULL when it has none): the
 * owner of the backends its requests use (serve-image.h), which are
 * closed with it. */
gconstpointer serve_conns_lookup (SoupServerMessage *msg);

/* The daemon stopped reading the request body of @msg (@paused), or
 * reads it again: while it does not, its client is not waited for, and
 * not ended for sending nothing, whatever libsoup holds of the body
 * already. */
void serve_conns_pause_body (SoupServerMessage *msg, gboolean paused);

G_END_DECLS
