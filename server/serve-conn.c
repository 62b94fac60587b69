/* serve-conn.c: the client connections of one server thread
 *
 * A connection is known by its GSocket: its state hangs on the socket, and
 * goes when libsoup drops the socket.
 *
 * A connection with a request in flight is stalled when its client is
 * the one waited for, and moves no byte for the inactivity timeout, as
 * an imageio socket times out: the client is waited for while bytes of
 * the response sit in the socket's send queue, or while the request's
 * body is owed and nothing is there to read. Such a request may hold
 * body buffers of the daemon's budget, which the requests of every other
 * client wait for: it is ended. A client that moves a byte now and then
 * is not stalled: over TCP the kernel counts the bytes acknowledged and
 * received, which move before libsoup sees a whole TLS record or finds
 * room enough to write; on a unix socket, a send queue that shrank or a
 * body byte libsoup moved count.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "serve-conn.h"
#include "serve-image.h"
#include "serve-socket.h"

#define CONN_KEY "imgxfer-serve-conn"
#define COUNTED_KEY "imgxfer-serve-counted"

typedef struct
{
  ServeConns *conns;
  GSocket *socket; /* not a reference: the state lives on it */
  guint busy;      /* requests whose headers came, not yet answered */
  gint64 last_active;
  guint timeout;
  gboolean shut;          /* shut down by the reaper, to be closed next */
  GPtrArray *tickets;     /* ServeTicket that counted this connection */
  SoupServerMessage *msg; /* the request in flight, not a reference */
  gboolean body_owed;     /* its body is not all read */
  gboolean body_paused;   /* the daemon stopped reading it for now */
  gboolean moved;         /* libsoup moved a body byte since the last tick */
  int sent_queue;         /* bytes in the send queue at the last tick */
  guint64 tcp_bytes;      /* acknowledged + received at the last tick */
} Conn;

struct _ServeConns
{
  SoupServer *server;
  guint default_timeout;
  gboolean defer_accept; /* the listening socket has TCP_DEFER_ACCEPT */
  gboolean verbose;
  GList *list; /* Conn */
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

/* The request's body moved a byte, in or out. */
static void
on_moved (SoupServerMessage *msg)
{
  Conn *conn = conn_get (NULL, msg);

  if (conn)
    conn->moved = TRUE;
}

static void
on_got_body (SoupServerMessage *msg)
{
  Conn *conn = conn_get (NULL, msg);

  if (conn && conn->msg == msg)
    conn->body_owed = FALSE;
}

/* A connection whose request has not sent all its headers is idle: a
 * client that sends half a request line and stops is closed after the
 * inactivity timeout, like one that sends nothing. */
static void
on_got_headers (SoupServerMessage *msg, ServeConns *conns)
{
  Conn *conn = conn_get (conns, msg);

  if (conn == NULL)
    return;
  conn->busy++;
  conn->msg = msg;
  conn->body_owed = TRUE;
  conn->last_active = g_get_monotonic_time ();
  g_object_set_data (G_OBJECT (msg), COUNTED_KEY, GINT_TO_POINTER (1));
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_moved), NULL);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_moved), NULL);
  g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), NULL);
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
  if (conn->msg == msg)
    {
      conn->msg = NULL;
      conn->body_owed = FALSE;
      conn->body_paused = FALSE;
    }
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

void
serve_conns_pause_body (SoupServerMessage *msg, gboolean paused)
{
  Conn *conn = conn_get (NULL, msg);

  if (conn)
    conn->body_paused = paused;
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

/* Whether the client moved a byte since the last tick: sampled each
 * tick, as the client is waited for. */
static gboolean
client_moved (Conn *conn, int fd, int sent_queue)
{
  gboolean moved = conn->moved || sent_queue < conn->sent_queue;
  guint64 bytes;

  if (serve_socket_tcp_bytes (fd, &bytes))
    {
      moved |= bytes != conn->tcp_bytes;
      conn->tcp_bytes = bytes;
    }
  conn->moved = FALSE;
  conn->sent_queue = sent_queue;
  return moved;
}

/* Whether the request in flight on @conn waits for its client, which has
 * moved no byte for the timeout (see the top of this file). */
static gboolean
stalled (Conn *conn, gint64 now)
{
  int fd = g_socket_get_fd (conn->socket);
  int sent_queue = 0, received_queue = 0;
  gboolean waited_for;

  if (ioctl (fd, SIOCOUTQ, &sent_queue) < 0
      || ioctl (fd, SIOCINQ, &received_queue) < 0)
    return FALSE;
  waited_for
      = sent_queue > 0
        || (conn->body_owed && !conn->body_paused && received_queue == 0);
  if (client_moved (conn, fd, sent_queue) || !waited_for)
    {
      conn->last_active = now;
      return FALSE;
    }
  return now - conn->last_active > conn->timeout * G_USEC_PER_SEC;
}

/* Ends the connection: libsoup, waiting on the socket, fails the request,
 * which gives its buffers and its backend back; the socket is closed once
 * the request is done. */
static void
end_stalled (Conn *conn)
{
  if (conn->conns->verbose)
    g_printerr ("imgxfer: %s %s: the client moved no byte for %u s: "
                "connection closed\n",
                soup_server_message_get_method (conn->msg),
                g_uri_get_path (soup_server_message_get_uri (conn->msg)),
                conn->timeout);
  g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  conn->shut = TRUE;
  conn_drop_tickets (conn);
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
      if (g_socket_is_closed (conn->socket))
        continue;
      if (conn->busy > 0)
        {
          if (!conn->shut && conn->msg && conn->timeout > 0
              && stalled (conn, now))
            end_stalled (conn);
          continue;
        }
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
                 gboolean defer_accept, gboolean verbose)
{
  ServeConns *self = g_new0 (ServeConns, 1);

  self->server = server;
  self->default_timeout = default_timeout;
  self->defer_accept = defer_accept;
  self->verbose = verbose;
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
