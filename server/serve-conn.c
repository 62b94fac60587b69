/* serve-conn.c: the client connections of one server thread
 *
 * A connection is known by its GSocket: its state hangs on the socket, and
 * goes when libsoup drops the socket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "serve-conn.h"
#include "serve-image.h"

#define CONN_KEY "imgxfer-serve-conn"
#define COUNTED_KEY "imgxfer-serve-counted"

typedef struct
{
  ServeConns *conns;
  GSocket *socket; /* not a reference: the state lives on it */
  guint busy;      /* requests whose headers came, not yet answered */
  gint64 last_active;
  guint timeout;
  gboolean shut;      /* shut down by the reaper, to be closed next */
  GPtrArray *tickets; /* ServeTicket that counted this connection */
} Conn;

struct _ServeConns
{
  SoupServer *server;
  guint default_timeout;
  gboolean defer_accept; /* the listening socket has TCP_DEFER_ACCEPT */
  GList *list;           /* Conn */
  GSource *reaper;
  gulong started_id, finished_id, aborted_id;
};

/* The connection no longer counts for its tickets, and its backends
 * go. */
static void
conn_drop_tickets (Conn *conn)
{
  for (guint i = 0; i < conn->tickets->len; i++)
    {
      serve_ticket_remove_connection (conn->tickets->pdata[i]);
      serve_image_disown (serve_ticket_get_image (conn->tickets->pdata[i]),
                          conn);
    }
  g_ptr_array_set_size (conn->tickets, 0);
}

static void
conn_free (gpointer data)
{
  Conn *conn = data;

  conn_drop_tickets (conn);
  conn->conns->list = g_list_remove (conn->conns->list, conn);
  g_ptr_array_unref (conn->tickets);
  g_free (conn);
}

static Conn *
conn_get (ServeConns *conns, SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  Conn *conn;

  if (socket == NULL)
    return NULL;
  conn = g_object_get_data (G_OBJECT (socket), CONN_KEY);
  if (conn == NULL && conns != NULL)
    {
      conn = g_new0 (Conn, 1);
      conn->conns = conns;
      conn->socket = socket;
      conn->timeout = conns->default_timeout;
      conn->last_active = g_get_monotonic_time ();
      conn->tickets
          = g_ptr_array_new_with_free_func ((GDestroyNotify)serve_ticket_unref);
      conns->list = g_list_prepend (conns->list, conn);
      g_object_set_data_full (G_OBJECT (socket), CONN_KEY, conn, conn_free);
    }
  return conn;
}

/* A connection whose request has not sent all its headers is idle: a
 * client that sends half a request line and stops is closed after the
 * inactivity timeout, like one that sends nothing. */
static void
on_got_headers (SoupServerMessage *msg, ServeConns *conns)
{
  Conn *conn = conn_get (conns, msg);

  if (conn)
    {
      conn->busy++;
      g_object_set_data (G_OBJECT (msg), COUNTED_KEY, GINT_TO_POINTER (1));
    }
}

/* libsoup starts a connection's first request before its TLS handshake.
 * The remote service's sockets are accepted once data came, or after the
 * kernel waited the inactivity timeout for it (TCP_DEFER_ACCEPT): one
 * without data then is a client that sends nothing, and is shut down
 * before its handshake takes a thread of GLib's pool, where it would wait
 * for a ClientHello while the handshakes of real clients queue behind. */
static void
on_request_started (SoupServer *server, SoupServerMessage *msg,
                    ServeConns *conns)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  gboolean first = socket && !g_object_get_data (G_OBJECT (socket), CONN_KEY);
  Conn *conn = conn_get (conns, msg);
  char byte;

  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), conns);
  if (conn && first && conns->defer_accept
      && recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0)
    {
      g_socket_shutdown (socket, TRUE, TRUE, NULL);
      conn->shut = TRUE;
    }
}

static void
on_request_done (SoupServer *server, SoupServerMessage *msg, ServeConns *conns)
{
  Conn *conn = conn_get (conns, msg);

  if (conn == NULL)
    return;
  if (g_object_steal_data (G_OBJECT (msg), COUNTED_KEY) && conn->busy > 0)
    conn->busy--;
  conn->last_active = g_get_monotonic_time ();
}

gconstpointer
serve_conns_lookup (SoupServerMessage *msg)
{
  return conn_get (NULL, msg);
}

void
serve_conns_use_ticket (SoupServerMessage *msg, ServeTicket *ticket)
{
  Conn *conn = conn_get (NULL, msg);

  if (conn == NULL)
    return;
  conn->timeout = serve_ticket_get_inactivity_timeout (ticket);
  for (guint i = 0; i < conn->tickets->len; i++)
    if (conn->tickets->pdata[i] == ticket)
      return;
  g_ptr_array_add (conn->tickets, serve_ticket_ref (ticket));
  serve_ticket_add_connection (ticket);
}

/* TRUE when the client closed its end: TCP knows it (CLOSE-WAIT); on a
 * unix socket, a peek at the end of the stream. */
static gboolean
peer_closed (GSocket *socket)
{
  int fd = g_socket_get_fd (socket);
  struct tcp_info info;
  socklen_t length = sizeof info;
  char byte;

  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0)
    return info.tcpi_state == TCP_CLOSE_WAIT;
  return recv (fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static gboolean
reap (gpointer data)
{
  ServeConns *conns = data;
  gint64 now = g_get_monotonic_time ();

  for (GList *l = conns->list, *next; l; l = next)
    {
      Conn *conn = l->data;

      next = l->next;
      if (conn->busy > 0 || g_socket_is_closed (conn->socket))
        continue;
      /* libsoup 3.2 never notices that an idle connection ended, not
       * even after a shutdown: its socket is closed here, or it would stay
       * open for good. It is shut down first and closed a tick later: a
       * TLS handshake may be waiting on it in another thread, which the
       * shutdown wakes, and which must not read a descriptor reused by
       * then. */
      if (conn->shut)
        g_socket_close (conn->socket, NULL);
      else if (peer_closed (conn->socket)
               || now - conn->last_active > conn->timeout * G_USEC_PER_SEC)
        {
          g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
          conn->shut = TRUE;
          conn_drop_tickets (conn);
        }
    }
  return G_SOURCE_CONTINUE;
}

ServeConns *
serve_conns_new (SoupServer *server, guint default_timeout,
                 gboolean defer_accept)
{
  ServeConns *self = g_new0 (ServeConns, 1);

  self->server = server;
  self->default_timeout = default_timeout;
  self->defer_accept = defer_accept;
  self->started_id = g_signal_connect (server, "request-started",
                                       G_CALLBACK (on_request_started), self);
  self->finished_id = g_signal_connect (server, "request-finished",
                                        G_CALLBACK (on_request_done), self);
  self->aborted_id = g_signal_connect (server, "request-aborted",
                                       G_CALLBACK (on_request_done), self);
  self->reaper = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->reaper, reap, self, NULL);
  g_source_attach (self->reaper, g_main_context_get_thread_default ());
  return self;
}

void
serve_conns_stop (ServeConns *self)
{
  g_source_destroy (self->reaper);
  g_signal_handler_disconnect (self->server, self->started_id);
  g_signal_handler_disconnect (self->server, self->finished_id);
  g_signal_handler_disconnect (self->server, self->aborted_id);
}

void
serve_conns_free (ServeConns *self)
{
  /* The server is gone, and with it every connection: a socket still here
   * is one libsoup 3.2 dropped without releasing (a connection that ended
   * without its noticing); it is released here when nothing else holds
   * it. */
  while (self->list)
    {
      Conn *conn = self->list->data;
      GSocket *socket = conn->socket;
      gboolean leaked = G_OBJECT (socket)->ref_count == 1;

      g_object_steal_data (G_OBJECT (socket), CONN_KEY);
      conn_free (conn);
      if (leaked)
        g_object_unref (socket);
    }
  g_source_unref (self->reaper);
  g_free (self);
}
