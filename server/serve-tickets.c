/* serve-tickets.c: the daemon's tickets, by id
 *
 * Ticket ids are opaque strings, only ever keys of this table.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-image.h"
#include "serve-tickets.h"

struct _ServeTickets
{
  GMutex lock;
  GHashTable *tickets; /* uuid → ServeTicket */
};

ServeTickets *
serve_tickets_new (void)
{
  ServeTickets *self = g_new0 (ServeTickets, 1);

  g_mutex_init (&self->lock);
  self->tickets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)serve_ticket_unref);
  return self;
}

void
serve_tickets_free (ServeTickets *self)
{
  g_hash_table_unref (self->tickets);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* As imageio's Authorizer.add(): a ticket of an id already known replaces
 * the old one, which is not cancelled: the requests it is serving go on,
 * and those that come later get the new ticket, with its own state. The
 * old ticket's idle backends close now, since they may hold the image's
 * write lock that the new ticket's backends need; the busy ones close as
 * their requests end. */
void
serve_tickets_add (ServeTickets *self, ServeTicket *ticket)
{
  g_autoptr (ServeTicket) old = NULL;
  const char *id = serve_ticket_get_uuid (ticket);

  g_mutex_lock (&self->lock);
  old = g_hash_table_lookup (self->tickets, id);
  if (old)
    serve_ticket_ref (old);
  g_hash_table_replace (self->tickets, g_strdup (id),
                        serve_ticket_ref (ticket));
  g_mutex_unlock (&self->lock);
  if (old)
    serve_image_close (serve_ticket_get_image (old));
}

ServeTicket *
serve_tickets_lookup (ServeTickets *self, const char *id)
{
  ServeTicket *ticket;

  g_mutex_lock (&self->lock);
  ticket = g_hash_table_lookup (self->tickets, id);
  if (ticket)
    serve_ticket_ref (ticket);
  g_mutex_unlock (&self->lock);
  return ticket;
}

ServeTicket *
serve_tickets_authorize (ServeTickets *self, const char *id, const char *op,
                         GError **error)
{
  g_autoptr (ServeTicket) ticket = serve_tickets_lookup (self, id);

  if (ticket == NULL)
    {
      g_set_error (error, SERVE_ERROR, 403,
                   "You are not allowed to access this resource: No such "
                   "ticket %s",
                   id);
      return NULL;
    }
  if (!serve_ticket_authorize (ticket, op, error))
    return NULL;
  return g_steal_pointer (&ticket);
}

gboolean
serve_tickets_remove (ServeTickets *self, const char *id, guint timeout,
                      GError **error)
{
  g_autoptr (ServeTicket) ticket = serve_tickets_lookup (self, id);

  if (ticket == NULL)
    return TRUE;
  if (!serve_ticket_cancel (ticket, timeout))
    {
      g_set_error (error, SERVE_ERROR, 409, "Timeout cancelling ticket %s", id);
      return FALSE;
    }
  g_mutex_lock (&self->lock);
  if (g_hash_table_lookup (self->tickets, id) == ticket)
    g_hash_table_remove (self->tickets, id);
  g_mutex_unlock (&self->lock);
  /* The idle backends go now, flushed; those of connections still open
   * go with the last request's reference. */
  serve_image_close (serve_ticket_get_image (ticket));
  return TRUE;
}

void
serve_tickets_clear (ServeTickets *self, guint timeout)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->tickets);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < ids->len; i++)
    serve_tickets_remove (self, ids->pdata[i], timeout, NULL);
}
