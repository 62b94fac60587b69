/* serve-ticket.h: a transfer ticket: what one client may do to one image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _ServeTicket ServeTicket;
typedef struct _ServeImage ServeImage;

/* One request's use of the ticket's image: registered while it may touch
 * the backend, so that cancelling the ticket can wait for it. */
typedef struct
{
  guint64 offset;
  guint64 done;
  GCancellable *cancellable;
} ServeOp;

/* Validates @node (the body of PUT /tickets/ID) the way imageio does;
 * on failure sets a SERVE_ERROR 400 naming the field. */
ServeTicket *serve_ticket_new (JsonNode *node, guint default_inactivity_timeout,
                               GError **error);
ServeTicket *serve_ticket_ref (ServeTicket *self);
void serve_ticket_unref (ServeTicket *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeTicket, serve_ticket_unref)

const char *serve_ticket_get_uuid (ServeTicket *self);
const char *serve_ticket_get_transfer_id (ServeTicket *self);
const char *serve_ticket_get_filename (ServeTicket *self);
guint64 serve_ticket_get_size (ServeTicket *self);
gboolean serve_ticket_get_dirty (ServeTicket *self);
gboolean serve_ticket_get_sparse (ServeTicket *self);
guint serve_ticket_get_inactivity_timeout (ServeTicket *self);
/* "read" is allowed by "write" too. */
gboolean serve_ticket_may (ServeTicket *self, const char *op);

/* The image behind the ticket, opened on first use (serve-image.h). */
ServeImage *serve_ticket_get_image (ServeTicket *self);

/* Fails with SERVE_ERROR 403 when the ticket is cancelled, expired or
 * does not allow @op. */
gboolean serve_ticket_authorize (ServeTicket *self, const char *op,
                                 GError **error);

/* Registers an operation starting at @offset; fails with 403 once the
 * ticket is cancelled. serve_ticket_end() extends the ticket and counts
 * the bytes the operation moved. */
ServeOp *serve_ticket_begin (ServeTicket *self, guint64 offset, GError **error);
void serve_ticket_add_done (ServeTicket *self, ServeOp *op, guint64 length);
void serve_ticket_end (ServeTicket *self, ServeOp *op);

/* Pushes the expiry to now + timeout and marks the ticket accessed. */
void serve_ticket_touch (ServeTicket *self);
void serve_ticket_extend (ServeTicket *self, guint timeout);

/* Client connections that used the ticket. */
void serve_ticket_add_connection (ServeTicket *self);
void serve_ticket_remove_connection (ServeTicket *self);

/* Cancels every operation and refuses new ones; waits up to @timeout
 * seconds until no operation is left. FALSE when some are still running. */
gboolean serve_ticket_cancel (ServeTicket *self, guint timeout);

/* The ticket as GET /tickets/ID reports it. */
JsonNode *serve_ticket_info (ServeTicket *self);

G_END_DECLS
