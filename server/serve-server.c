/* serve-server.c: the daemon behind `imgxfer serve`
 *
 * The remote service runs in several threads, each with its own main
 * context and SoupServer, all listening on the same port (SO_REUSEPORT):
 * the kernel spreads the connections, and TLS and HTTP work use several
 * cores. The local service runs in the first of them, the control service
 * in the caller's main context. Backend calls leave every one of these
 * threads for the job workers (serve-job.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve-conn.h"
#include "serve-http.h"
#include "serve-images.h"
#include "serve-job.h"
#include "serve-limits.h"
#include "serve-server.h"
#include "serve-tls.h"

/* Bodies other than a PUT's image data are small JSON documents. */
#define MAX_SMALL_BODY (64 * 1024)
#define SERVER_HEADER "imgxfer/" PACKAGE_VERSION

typedef struct
{
  ServeServer *server;
  ServeServiceKind kind;
  SoupServer *soup;
  ServeConns *conns;
  GSocket *socket;
} Service;

typedef struct
{
  ServeServer *server;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GPtrArray *services; /* Service, made in the thread */
  GPtrArray *sockets;  /* GSocket, with the kind in "serve-kind" */
  GMutex lock;
  GCond cond;
  gboolean ready;
  GError *error;
} Loop;

struct _ServeServer
{
  ServeConfig *config;
  ServeTickets *tickets;
  GTlsCertificate *certificate;
  char *generated_cert;
  guint16 port;
  GPtrArray *loops;
  Service *control;
  guint16 control_port;
};

ServeServer *
serve_server_new (ServeConfig *config)
{
  ServeServer *self = g_new0 (ServeServer, 1);

  self->config = config;
  self->tickets = serve_tickets_new ();
  self->loops = g_ptr_array_new ();
  return self;
}

ServeConfig *
serve_server_get_config (ServeServer *self)
{
  return self->config;
}

ServeTickets *
serve_server_get_tickets (ServeServer *self)
{
  return self->tickets;
}

const char *
serve_server_get_generated_cert (ServeServer *self)
{
  return self->generated_cert;
}

guint16
serve_server_get_control_port (ServeServer *self)
{
  return self->control_port;
}

char *
serve_server_get_remote_url (ServeServer *self)
{
  const char *host = self->config->host ? self->config->host : "::";

  if (strchr (host, ':'))
    return g_strdup_printf ("https://[%s]:%u", host, self->port);
  return g_strdup_printf ("https://%s:%u", host, self->port);
}

/* Requests with a body nobody streams are refused before it is read when
 * it is large or of unknown length. */
static gboolean
check_small_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);

  if (encoding == SOUP_ENCODING_NONE
      || (encoding == SOUP_ENCODING_CONTENT_LENGTH
          && soup_message_headers_get_content_length (headers)
                 <= MAX_SMALL_BODY))
    return TRUE;
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
  serve_http_close_connection (msg);
  serve_http_send_status (msg, 413,
                          "Request body too large or without "
                          "Content-Length (at most %d bytes)",
                          MAX_SMALL_BODY);
  return FALSE;
}

static void
early_handler (SoupServer *soup, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer data)
{
  Service *service = data;

  if (!serve_limits_check_head (msg))
    return;
  if (service->kind != SERVE_SERVICE_CONTROL)
    serve_images_add_cors (service->kind, msg);
  if (service->kind != SERVE_SERVICE_CONTROL
      && g_str_equal (soup_server_message_get_method (msg), "PUT"))
    {
      serve_images_handle_early (service->server, service->kind, msg);
      return;
    }
  check_small_body (msg);
}

static void
handler (SoupServer *soup, SoupServerMessage *msg, const char *path,
         GHashTable *query, gpointer data)
{
  Service *service = data;

  if (soup_server_message_get_status (msg) != 0)
    return;
  if (service->kind == SERVE_SERVICE_CONTROL)
    serve_control_handle (service->server, msg);
  else
    serve_images_handle (service->server, service->kind, msg);
}

static void
log_request (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  g_printerr ("imgxfer: %s %s %u\n", soup_server_message_get_method (msg),
              g_uri_get_path (soup_server_message_get_uri (msg)),
              soup_server_message_get_status (msg));
}

static Service *
service_new (ServeServer *server, ServeServiceKind kind, GSocket *socket,
             GError **error)
{
  Service *service = g_new0 (Service, 1);
  SoupServerListenOptions options = 0;

  service->server = server;
  service->kind = kind;
  service->socket = g_object_ref (socket);
  service->soup = soup_server_new ("server-header", SERVER_HEADER, NULL);
  if (kind == SERVE_SERVICE_REMOTE)
    {
      soup_server_set_tls_certificate (service->soup, server->certificate);
      options |= SOUP_SERVER_LISTEN_HTTPS;
    }
  soup_server_add_early_handler (service->soup, NULL, early_handler, service,
                                 NULL);
  soup_server_add_handler (service->soup, NULL, handler, service, NULL);
  if (server->config->verbose)
    g_signal_connect (service->soup, "request-finished",
                      G_CALLBACK (log_request), NULL);
  service->conns = serve_conns_new (
      service->soup, server->config->inactivity_timeout,
      kind == SERVE_SERVICE_REMOTE && server->config->inactivity_timeout > 0,
      server->config->verbose);
  if (!soup_server_listen_socket (service->soup, socket, options, error))
    return NULL;
  return service;
}

static void
service_free (gpointer data)
{
  Service *service = data;

  soup_server_disconnect (service->soup);
  serve_conns_stop (service->conns);
  g_object_unref (service->soup);
  serve_conns_free (service->conns);
  g_object_unref (service->socket);
  g_free (service);
}

/* A listening socket from plain socket calls: GLib's bind turns
 * SO_REUSEPORT off, and the remote threads share one port. A @defer_accept
 * of N seconds hands over a connection only once it sent data, or after N
 * seconds (TCP_DEFER_ACCEPT): clients that connect and send nothing wait
 * in the kernel, not in a TLS handshake of the daemon. */
static GSocket *
listen_tcp (const struct sockaddr *address, socklen_t length,
            gboolean reuse_port, int defer_accept, const char *what,
            GError **error)
{
  int fd = socket (address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, zero = 0;
  GSocket *listener;

  if (fd < 0)
    goto fail;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port)
    setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (defer_accept > 0)
    setsockopt (fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_accept,
                sizeof defer_accept);
  if (address->sa_family == AF_INET6)
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind (fd, address, length) < 0 || listen (fd, 128) < 0)
    goto fail;
  listener = g_socket_new_from_fd (fd, error);
  if (listener == NULL)
    close (fd);
  return listener;

fail:
  {
    int saved = errno;

    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                 what, g_strerror (saved));
    return NULL;
  }
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr (GSocketAddress) address
      = g_socket_get_local_address (socket, NULL);

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* One socket per remote thread, on the same port. */
static gboolean
bind_remote (ServeServer *self, GPtrArray *sockets, GError **error)
{
  const char *host = self->config->host ? self->config->host : "::";
  g_autofree char *what
      = g_strdup_printf ("%s port %d", host, self->config->port);
  struct addrinfo hints
      = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
  struct addrinfo *result = NULL;
  guint16 port = self->config->port;
  int status;

  status = getaddrinfo (host, "0", &hints, &result);
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: %s", host,
                   gai_strerror (status));
      return FALSE;
    }
  for (guint i = 0; i < self->config->threads; i++)
    {
      struct sockaddr_storage address;
      GSocket *socket;

      memcpy (&address, result->ai_addr, result->ai_addrlen);
      if (address.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&address)->sin6_port = htons (port);
      else
        ((struct sockaddr_in *)&address)->sin_port = htons (port);
      socket = listen_tcp (
          (struct sockaddr *)&address, result->ai_addrlen, TRUE,
          MIN (self->config->inactivity_timeout, G_MAXINT), what, error);
      if (socket == NULL)
        break;
      port = socket_port (socket);
      g_ptr_array_add (sockets, socket);
    }
  freeaddrinfo (result);
  self->port = port;
  return sockets->len == self->config->threads;
}

static GSocket *
listen_unix (const char *path, int mode, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd, saved;
  GSocket *listener;

  if (strlen (path) >= sizeof address.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: socket path too long", path);
      return NULL;
    }
  strcpy (address.sun_path, path);
  /* A socket left by a daemon that was killed. */
  if (g_file_test (path, G_FILE_TEST_EXISTS)
      && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_unlink (path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *)&address, sizeof address) < 0
      || chmod (path, mode) < 0 || listen (fd, 128) < 0)
    {
      saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  listener = g_socket_new_from_fd (fd, error);
  if (listener == NULL)
    close (fd);
  return listener;
}

static gpointer
loop_thread (gpointer data)
{
  Loop *loop = data;

  g_main_context_push_thread_default (loop->context);
  for (guint i = 0; i < loop->sockets->len && loop->error == NULL; i++)
    {
      GSocket *socket = loop->sockets->pdata[i];
      ServeServiceKind kind = GPOINTER_TO_INT (
          g_object_get_data (G_OBJECT (socket), "serve-kind"));
      Service *service = service_new (loop->server, kind, socket, &loop->error);

      if (service)
        g_ptr_array_add (loop->services, service);
    }
  g_mutex_lock (&loop->lock);
  loop->ready = TRUE;
  g_cond_signal (&loop->cond);
  g_mutex_unlock (&loop->lock);

  if (loop->error == NULL)
    g_main_loop_run (loop->loop);
  g_ptr_array_set_size (loop->services, 0);
  g_main_context_pop_thread_default (loop->context);
  return NULL;
}

static Loop *
loop_start (ServeServer *self, GPtrArray *sockets, GError **error)
{
  Loop *loop = g_new0 (Loop, 1);

  loop->server = self;
  loop->context = g_main_context_new ();
  loop->loop = g_main_loop_new (loop->context, FALSE);
  loop->services = g_ptr_array_new_with_free_func (service_free);
  loop->sockets = sockets;
  g_mutex_init (&loop->lock);
  g_cond_init (&loop->cond);
  g_ptr_array_add (self->loops, loop);
  loop->thread = g_thread_new ("imgxfer-serve", loop_thread, loop);

  g_mutex_lock (&loop->lock);
  while (!loop->ready)
    g_cond_wait (&loop->cond, &loop->lock);
  g_mutex_unlock (&loop->lock);
  if (loop->error)
    {
      g_propagate_error (error, g_steal_pointer (&loop->error));
      return NULL;
    }
  return loop;
}

static gboolean
load_certificate (ServeServer *self, GError **error)
{
  ServeConfig *config = self->config;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;

  if ((config->cert_file == NULL) != (config->key_file == NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "a certificate needs both --cert and --key");
      return FALSE;
    }
  if (config->cert_file == NULL)
    {
      cert = g_build_filename (config->state_dir, "cert.pem", NULL);
      key = g_build_filename (config->state_dir, "key.pem", NULL);
      if (!serve_tls_ensure_self_signed (cert, key, error))
        return FALSE;
      self->generated_cert = g_strdup (cert);
    }
  self->certificate
      = serve_tls_load (cert ? cert : config->cert_file,
                        key ? key : config->key_file, config->ca_file, error);
  return self->certificate != NULL;
}

static gboolean
start_control (ServeServer *self, GError **error)
{
  ServeConfig *config = self->config;
  g_autoptr (GSocket) socket = NULL;

  if (config->control_port >= 0)
    {
      struct sockaddr_in address
          = { .sin_family = AF_INET,
              .sin_port = htons (config->control_port),
              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
      socket = listen_tcp ((struct sockaddr *)&address, sizeof address, FALSE,
                           0, "control port", error);
      if (socket)
        self->control_port = socket_port (socket);
    }
  else
    socket = listen_unix (config->control_socket, 0600, error);
  if (socket == NULL)
    return FALSE;
  self->control = service_new (self, SERVE_SERVICE_CONTROL, socket, error);
  return self->control != NULL;
}

gboolean
serve_server_start (ServeServer *self, GError **error)
{
  ServeConfig *config = self->config;
  GPtrArray *sockets = NULL;

  if (g_mkdir_with_parents (config->state_dir, 0700) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s",
                   config->state_dir, g_strerror (errno));
      return FALSE;
    }
  if (!load_certificate (self, error))
    return FALSE;

  sockets = g_ptr_array_new_with_free_func (g_object_unref);
  if (!bind_remote (self, sockets, error))
    {
      g_ptr_array_unref (sockets);
      return FALSE;
    }
  for (guint i = 0; i < sockets->len; i++)
    {
      GPtrArray *own = g_ptr_array_new_with_free_func (g_object_unref);

      g_object_set_data (sockets->pdata[i], "serve-kind",
                         GINT_TO_POINTER (SERVE_SERVICE_REMOTE));
      g_ptr_array_add (own, g_object_ref (sockets->pdata[i]));
      if (i == 0 && config->local_enable)
        {
          GSocket *local = listen_unix (config->local_socket, 0660, error);

          if (local == NULL)
            {
              g_ptr_array_unref (own);
              g_ptr_array_unref (sockets);
              return FALSE;
            }
          g_object_set_data (G_OBJECT (local), "serve-kind",
                             GINT_TO_POINTER (SERVE_SERVICE_LOCAL));
          g_ptr_array_add (own, local);
        }
      if (loop_start (self, own, error) == NULL)
        {
          g_ptr_array_unref (sockets);
          return FALSE;
        }
    }
  g_ptr_array_unref (sockets);
  return start_control (self, error);
}

static gboolean
quit_loop (gpointer data)
{
  Loop *loop = data;

  /* Services go in their own thread: libsoup objects stay in one. */
  g_ptr_array_set_size (loop->services, 0);
  g_main_loop_quit (loop->loop);
  return G_SOURCE_REMOVE;
}

/* GLib keeps the threads of its shared pool (glib-networking's TLS
 * handshakes run there) for a while after their last task; they end now,
 * so that no thread but this one is left when the process exits. */
static void
stop_glib_threads (void)
{
  g_thread_pool_set_max_unused_threads (0);
  for (int i = 0; i < 100; i++)
    {
      g_thread_pool_stop_unused_threads ();
      if (g_thread_pool_get_num_unused_threads () == 0 && i > 6)
        break;
      g_usleep (G_USEC_PER_SEC / 10);
    }
}

void
serve_server_stop (ServeServer *self)
{
  /* In-flight requests end (cancelled tickets shut their connections);
   * the loops still run meanwhile so that they can. */
  serve_tickets_clear (self->tickets, 10);
  serve_job_drain_in (g_main_context_get_thread_default ());

  g_clear_pointer (&self->control, service_free);
  for (guint i = 0; i < self->loops->len; i++)
    {
      Loop *loop = self->loops->pdata[i];

      g_main_context_invoke (loop->context, quit_loop, loop);
      g_thread_join (loop->thread);
    }
  serve_job_drain_in (g_main_context_get_thread_default ());
  serve_job_shutdown ();
  stop_glib_threads ();
  if (self->config->local_enable && self->config->local_socket)
    g_unlink (self->config->local_socket);
  if (self->config->control_socket && self->config->control_port < 0)
    g_unlink (self->config->control_socket);
}

static void
loop_free (gpointer data)
{
  Loop *loop = data;

  g_ptr_array_unref (loop->services);
  g_ptr_array_unref (loop->sockets);
  g_main_loop_unref (loop->loop);
  g_main_context_unref (loop->context);
  g_mutex_clear (&loop->lock);
  g_cond_clear (&loop->cond);
  g_clear_error (&loop->error);
  g_free (loop);
}

void
serve_server_free (ServeServer *self)
{
  g_ptr_array_set_free_func (self->loops, loop_free);
  g_ptr_array_unref (self->loops);
  g_clear_pointer (&self->control, service_free);
  serve_tickets_free (self->tickets);
  g_clear_object (&self->certificate);
  g_free (self->generated_cert);
  serve_config_free (self->config);
  g_free (self);
}
