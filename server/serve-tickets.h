/* serve-tickets.h: the daemon's tickets, by id
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "serve-ticket.h"

G_BEGIN_DECLS

typedef struct _ServeTickets ServeTickets;

ServeTickets *serve_tickets_new (void);
void serve_tickets_free (ServeTickets *self);

/* Adds @ticket under its uuid, replacing any ticket of that id. */
void serve_tickets_add (ServeTickets *self, ServeTicket *ticket);
/* (transfer full) (nullable) */
ServeTicket *serve_tickets_lookup (ServeTickets *self, const char *id);
/* The ticket @id when it allows @op now; otherwise SERVE_ERROR 403. */
ServeTicket *serve_tickets_authorize (ServeTickets *self, const char *id,
                                      const char *op, GError **error);
/* Cancels the ticket and removes it once no operation uses it; 409 when
 * operations still run after @timeout seconds. Blocks: call it from a
 * worker. An unknown id is not an error. */
gboolean serve_tickets_remove (ServeTickets *self, const char *id,
                               guint timeout, GError **error);
/* Cancels and removes every ticket, waiting up to @timeout seconds for
 * each; for DELETE /tickets/ and shutdown. */
void serve_tickets_clear (ServeTickets *self, guint timeout);

G_END_DECLS
