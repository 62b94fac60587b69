/* imgxfer-imageio-http.c: the imageio protocol over one HTTP connection
 *
 * The requests of ovirt-imageio's own client, with libsoup's synchronous
 * API: OPTIONS for the features, GET with Range, PUT with Content-Range
 * (its body sent from the caller's buffer, not a copy), PATCH zero and
 * flush, GET /extents and /checksum. A status other than the expected one
 * becomes an error carrying the status and the server's message (the
 * first 512 bytes of the body, as imageio's client keeps).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "drivers/common/imgxfer-json-strict.h"

#include "imgxfer-imageio-http.h"

/* imageio's client keeps this much of an error body. */
#define ERROR_BODY_MAX 512
/* The extents of a very fragmented image are a large JSON document. */
#define JSON_BODY_MAX (256 * 1024 * 1024)
#define DRAIN_CHUNK 16384

struct _ImgxferImageioHttp
{
  char *name;    /* the URL named in errors */
  GUri *uri;     /* where requests go */
  GUri *put_uri; /* the same with ?flush=n */
  char *unix_socket;
  gboolean insecure;
  guint timeout_s;
  gboolean has_fallback;
  GTlsDatabase *database; /* from the CA file; NULL: the system's */

  SoupSession *session;
  GThread *session_thread;
  guint connections; /* made so far, by every session */
  gboolean reached;  /* a connection was made, its TLS handshake done */

  /* What the last request found. */
  gboolean unreachable;
  gboolean transient; /* it failed in a way that may pass */
  char *reason;       /* why it failed, without the URL */
  GTlsCertificateFlags tls_errors;
  GSocketAddress *peer;
};

void
_imgxfer_imageio_features_clear (ImgxferImageioFeatures *features)
{
  g_clear_pointer (&features->unix_socket, g_free);
}

static GUri *
with_query (GUri *uri, const char *query)
{
  return g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri),
                      g_uri_get_userinfo (uri), g_uri_get_host (uri),
                      g_uri_get_port (uri), g_uri_get_path (uri), query, NULL);
}

/* Through the server's unix socket the requests are plain HTTP; libsoup
 * connects to the socket whatever the host. */
static GUri *
request_uri (const char *url, const char *name, gboolean unix_socket,
             GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local_error);
  const char *scheme;

  if (uri == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: not a valid URL: %s", name, local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "https") != 0
      && g_ascii_strcasecmp (scheme, "http") != 0)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: expected an http or https URL", name);
      return NULL;
    }
  if (!unix_socket)
    return g_steal_pointer (&uri);

  return g_uri_build (G_URI_FLAGS_ENCODED, "http", NULL, "localhost", -1,
                      g_uri_get_path (uri), g_uri_get_query (uri), NULL);
}

ImgxferImageioHttp *
_imgxfer_imageio_http_new (const char *url, const char *name,
                           const ImgxferImageioConnectOptions *options,
                           GError **error)
{
  g_autoptr (ImgxferImageioHttp) self = g_new0 (ImgxferImageioHttp, 1);
  g_autoptr (GError) local_error = NULL;

  self->name = g_strdup (name);
  self->unix_socket = g_strdup (options->unix_socket);
  self->insecure = options->insecure;
  self->timeout_s = options->timeout_s;
  self->has_fallback = options->has_fallback;
  self->uri = request_uri (url, name, options->unix_socket != NULL, error);
  if (self->uri == NULL)
    return NULL;
  self->put_uri = with_query (self->uri, "flush=n");

  if (options->ca_file != NULL && !options->insecure)
    {
      /* GIO takes an absolute path only. */
      g_autofree char *ca_file
          = g_canonicalize_filename (options->ca_file, NULL);

      self->database = g_tls_file_database_new (ca_file, &local_error);
      if (self->database == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "%s: cannot use the CA file %s: %s", name,
                       options->ca_file, local_error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

void
_imgxfer_imageio_http_free (ImgxferImageioHttp *self)
{
  if (self == NULL)
    return;
  g_clear_object (&self->session);
  g_clear_object (&self->database);
  g_clear_object (&self->peer);
  g_clear_pointer (&self->uri, g_uri_unref);
  g_clear_pointer (&self->put_uri, g_uri_unref);
  g_free (self->unix_socket);
  g_free (self->reason);
  g_free (self->name);
  g_free (self);
}

/* libsoup 3 wants a session used from the thread that made it: a
 * connection handed to another thread (a backend opened by the caller,
 * then driven by a copy worker) gets a new session there. Everything is
 * configured before the first request. The proxy resolver is off: an
 * imageio server is reached directly, as its own client does.
 *
 * One connection at a time (max-conns), but two allowed to the host: a
 * request may find the connection of the one before it not given back
 * yet, and libsoup 3.2 waits for it. When the server had closed it
 * meanwhile, libsoup found it given back but closed and, at the limit of
 * connections to the host, waited for another one forever, without
 * timeout or cancellation (a server that ends its connections after an
 * answer, or that went away, hung the copy). Below that limit and at the
 * session's, it drops the closed one and opens a new one. */
static SoupSession *
ensure_session (ImgxferImageioHttp *self)
{
  g_autoptr (GSocketConnectable) remote = NULL;

  if (self->session != NULL && self->session_thread == g_thread_self ())
    return self->session;

  g_clear_object (&self->session);
  if (self->unix_socket)
    remote
        = G_SOCKET_CONNECTABLE (g_unix_socket_address_new (self->unix_socket));
  self->session = g_object_new (SOUP_TYPE_SESSION, "max-conns", 1,
                                "max-conns-per-host", 2, "remote-connectable",
                                remote, "timeout", self->timeout_s,
                                "user-agent", "imgxfer/" PACKAGE_VERSION, NULL);
  soup_session_set_proxy_resolver (self->session, NULL);
  if (self->database)
    soup_session_set_tls_database (self->session, self->database);
  self->session_thread = g_thread_self ();
  return self->session;
}

gboolean
_imgxfer_imageio_http_unreachable (ImgxferImageioHttp *self)
{
  return self->unreachable;
}

guint
_imgxfer_imageio_http_connections (ImgxferImageioHttp *self)
{
  return self->connections;
}

gboolean
_imgxfer_imageio_http_transient (ImgxferImageioHttp *self, const char **reason)
{
  *reason = self->reason ? self->reason : "";
  return self->transient;
}

/* Notes why the request failed, for a retry to say. */
static void
note_failure (ImgxferImageioHttp *self, gboolean transient, const char *reason)
{
  self->transient = transient;
  g_free (self->reason);
  self->reason = g_strdup (reason);
}

/* An address of this machine is one a socket can be bound to. */
gboolean
_imgxfer_imageio_http_peer_is_local (ImgxferImageioHttp *self)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  GInetAddress *address;

  if (!G_IS_INET_SOCKET_ADDRESS (self->peer))
    return FALSE;
  address
      = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (self->peer));
  if (g_inet_address_get_is_loopback (address))
    return TRUE;

  socket = g_socket_new (g_inet_address_get_family (address),
                         G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  local = g_inet_socket_address_new (address, 0);
  return socket != NULL && g_socket_bind (socket, local, FALSE, NULL);
}

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *certificate,
                       GTlsCertificateFlags errors, gpointer data)
{
  ImgxferImageioHttp *self = data;

  self->tls_errors = errors;
  return self->insecure;
}

static char *
describe_tls_errors (GTlsCertificateFlags flags)
{
  static const struct
  {
    GTlsCertificateFlags flag;
    const char *text;
  } reasons[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "signed by an unknown CA" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, "issued for another host" },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not valid yet" },
    { G_TLS_CERTIFICATE_EXPIRED, "expired" },
    { G_TLS_CERTIFICATE_REVOKED, "revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "insecure" },
  };
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) texts = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (flags & reasons[i].flag)
      g_strv_builder_add (builder, reasons[i].text);
  texts = g_strv_builder_end (builder);
  if (texts[0] == NULL)
    return g_strdup ("not valid");
  return g_strjoinv (", ", texts);
}

/* A request that failed part-way. A server that stalls (stops reading
 * an upload or sending a download) is told apart: the user learns that
 * it timed out and after how long, not just that a socket did. */
static void
set_io_error (ImgxferImageioHttp *self, const char *what, GError *local_error,
              GError **error)
{
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "%s: %s timed out: the server at %s made no progress in "
                 "%u s",
                 self->name, what,
                 self->unix_socket ? self->unix_socket
                                   : g_uri_get_host (self->uri),
                 self->timeout_s);
  else
    g_set_error (error, local_error->domain, local_error->code,
                 "%s: %s failed: %s", self->name, what, local_error->message);
}

/* Whether a request that failed with @local_error, before or during its
 * response, may succeed on a new connection: not when it was cancelled,
 * nor when it timed out (the server held it for the whole timeout: each
 * retry would add as much to the time a dead server takes to be found
 * out), nor when the server's name does not exist (a resolver that
 * cannot answer now says so with another error). */
static gboolean
may_pass (GError *local_error)
{
  return !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
         && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
         && !g_error_matches (local_error, G_RESOLVER_ERROR,
                              G_RESOLVER_ERROR_NOT_FOUND);
}

/* A failure before any response: the server could not be reached, its
 * certificate was refused, it went away, or it stalled. */
static void
set_transport_error (ImgxferImageioHttp *self, SoupMessage *msg,
                     GError *local_error, const char *what, GError **error)
{
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_error_copy (local_error));
      return;
    }
  /* A connection cut once made is a server reached that went away. */
  self->unreachable
      = soup_message_get_status (msg) == SOUP_STATUS_NONE && !self->reached;
  /* A refused certificate stays refused; a refused, reset or closed
   * connection may not, unless another URL is the remedy. */
  note_failure (self,
                may_pass (local_error) && !(self->tls_errors && !self->insecure)
                    && !(self->unreachable && self->has_fallback),
                local_error->message);

  if (self->tls_errors && !self->insecure)
    {
      g_autofree char *reasons = describe_tls_errors (self->tls_errors);

      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "%s: the TLS certificate of %s is not trusted: %s%s",
                   self->name, g_uri_get_host (self->uri), reasons,
                   self->database ? ""
                                  : " (no --cafile given: the system's "
                                    "CAs were used)");
      return;
    }
  if (self->unreachable && self->peer == NULL
      && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_set_error (error, local_error->domain, local_error->code,
                 "%s: cannot reach the server: %s", self->name,
                 local_error->message);
  else
    set_io_error (self, what, local_error, error);
}

/* libsoup writes a request's headers and its body apart: with Nagle's
 * algorithm a small body (a PATCH) then waits for the ACK of the headers,
 * which the server delays, 40 ms a request over TCP. Each connection
 * made is counted, and one that is ready for requests (libsoup says
 * "complete" after the TLS handshake) shows the server reachable. */
static void
on_network_event (SoupMessage *msg, GSocketClientEvent event,
                  GIOStream *connection, gpointer data)
{
  ImgxferImageioHttp *self = data;
  GSocket *socket;

  if (event == G_SOCKET_CLIENT_COMPLETE)
    self->reached = TRUE;
  if (event == G_SOCKET_CLIENT_CONNECTED)
    self->connections++;
  if (event != G_SOCKET_CLIENT_CONNECTED || !G_IS_TCP_CONNECTION (connection))
    return;
  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection));
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

static GInputStream *
send_message (ImgxferImageioHttp *self, SoupMessage *msg, const char *what,
              GCancellable *cancellable, GError **error)
{
  SoupSession *session = ensure_session (self);
  g_autoptr (GError) local_error = NULL;
  GInputStream *stream;

  self->unreachable = FALSE;
  self->tls_errors = 0;
  note_failure (self, FALSE, NULL);
  g_signal_connect (msg, "accept-certificate",
                    G_CALLBACK (on_accept_certificate), self);
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), self);

  stream = soup_session_send (session, msg, cancellable, &local_error);
  if (stream == NULL)
    {
      set_transport_error (self, msg, local_error, what, error);
      return NULL;
    }
  g_set_object (&self->peer, soup_message_get_remote_address (msg));
  return stream;
}

/* A response cut short: the connection broke under it. */
static void
set_body_error (ImgxferImageioHttp *self, GError *local_error, const char *what,
                GError **error)
{
  note_failure (self, may_pass (local_error), local_error->message);
  set_io_error (self, what, local_error, error);
}

/* Reads what is left of a response, so that the connection can carry the
 * next request, and closes the stream. */
static gboolean
finish_body (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  char chunk[DRAIN_CHUNK];
  gssize n;

  do
    n = g_input_stream_read (stream, chunk, sizeof chunk, cancellable, error);
  while (n > 0);
  if (n < 0)
    {
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }
  return g_input_stream_close (stream, cancellable, error);
}

/* The whole body, up to @max bytes. */
static GBytes *
read_body (ImgxferImageioHttp *self, GInputStream *stream, gsize max,
           const char *what, GCancellable *cancellable, GError **error)
{
  g_autoptr (GByteArray) body = g_byte_array_new ();
  g_autoptr (GError) local_error = NULL;
  guint8 chunk[DRAIN_CHUNK];
  gssize n;

  while ((n = g_input_stream_read (stream, chunk, sizeof chunk, cancellable,
                                   &local_error))
         > 0)
    {
      if (body->len + (gsize)n > max)
        {
          g_input_stream_close (stream, NULL, NULL);
          g_set_error (
              error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
              "%s: %s: the server's answer is larger than %" G_GSIZE_FORMAT
              " bytes",
              self->name, what, max);
          return NULL;
        }
      g_byte_array_append (body, chunk, n);
    }
  if (n < 0)
    {
      g_input_stream_close (stream, NULL, NULL);
      set_body_error (self, local_error, what, error);
      return NULL;
    }
  g_input_stream_close (stream, NULL, NULL);
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

/* The server's message: the start of the body, one line. */
static char *
error_message (GInputStream *stream, GCancellable *cancellable)
{
  char text[ERROR_BODY_MAX + 1];
  gsize n = 0;
  char *message;

  g_input_stream_read_all (stream, text, ERROR_BODY_MAX, &n, cancellable, NULL);
  finish_body (stream, cancellable, NULL);
  text[n] = '\0';
  message = g_utf8_make_valid (text, n);
  g_strstrip (message);
  for (char *p = message; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return message;
}

/* 403 is how imageio refuses a ticket that expired, was cancelled or
 * removed, and also an operation the ticket does not allow ("forbids"). */
static int
status_error_code (guint status, const char *message, GQuark *domain)
{
  *domain = IMGXFER_ERROR;
  switch (status)
    {
    case SOUP_STATUS_FORBIDDEN:
      /* "You are not allowed to access this resource: Ticket T forbids
       * write" for an operation; "…: No such ticket T", "…: Ticket T
       * expired" and the like for a ticket that is gone. */
      if (strstr (message, "forbids "))
        {
          *domain = G_IO_ERROR;
          return G_IO_ERROR_PERMISSION_DENIED;
        }
      return IMGXFER_ERROR_EXPIRED;
    case SOUP_STATUS_NOT_FOUND:
      return IMGXFER_ERROR_NOT_FOUND;
    case SOUP_STATUS_BAD_REQUEST:
    case SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE:
      return IMGXFER_ERROR_INVALID_ARGUMENT;
    default:
      return IMGXFER_ERROR_FAILED;
    }
}

/* What a server or a proxy in front of it answers when it cannot serve
 * the request now but may soon: a request it timed out waiting for, too
 * many requests, an upstream it could not reach, a daemon starting or
 * stopping. 500 is imageio's answer to an error of the image itself (no
 * space, I/O error), which sending again only repeats; 4xx say the
 * request is wrong, or the ticket gone or expired (403). */
static gboolean
status_is_transient (guint status)
{
  switch (status)
    {
    case SOUP_STATUS_REQUEST_TIMEOUT:
    case 429: /* Too Many Requests: libsoup 3.2 has no name for it */
    case SOUP_STATUS_BAD_GATEWAY:
    case SOUP_STATUS_SERVICE_UNAVAILABLE:
    case SOUP_STATUS_GATEWAY_TIMEOUT:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
set_status_error (ImgxferImageioHttp *self, SoupMessage *msg,
                  GInputStream *stream, const char *what,
                  GCancellable *cancellable, GError **error)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  g_autofree char *message = error_message (stream, cancellable);
  g_autofree char *summary
      = g_strdup_printf ("HTTP %u %s", status, reason ? reason : "");
  GQuark domain;
  int code = status_error_code (status, message, &domain);

  note_failure (self, status_is_transient (status), summary);

  g_set_error (error, domain, code, "%s: %s failed: HTTP %u %s%s%s", self->name,
               what, status, reason ? reason : "", *message ? ": " : "",
               message);
  return FALSE;
}

static gboolean
expect_status (ImgxferImageioHttp *self, SoupMessage *msg, GInputStream *stream,
               const char *what, GCancellable *cancellable, GError **error)
{
  if (SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg)))
    return TRUE;
  return set_status_error (self, msg, stream, what, cancellable, error);
}

/* Sends @msg, checks for a 2xx and reads the body, which is dropped. */
static gboolean
send_simple (ImgxferImageioHttp *self, SoupMessage *msg, const char *what,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (GInputStream) stream
      = send_message (self, msg, what, cancellable, error);
  g_autoptr (GError) local_error = NULL;

  if (stream == NULL
      || !expect_status (self, msg, stream, what, cancellable, error))
    return FALSE;
  if (!finish_body (stream, cancellable, &local_error))
    {
      set_body_error (self, local_error, what, error);
      return FALSE;
    }
  return TRUE;
}

/* A server is not trusted: its answer is parsed as strictly as the
 * daemon parses its clients' bodies. */
static JsonNode *
parse_json (ImgxferImageioHttp *self, GBytes *body, const char *what,
            GError **error)
{
  g_autoptr (GError) local_error = NULL;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);
  JsonNode *root = _imgxfer_json_parse_strict (data, length, &local_error);

  if (root == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: %s: the server's answer is not JSON: %s", self->name,
                 what, local_error->message);
  return root;
}

static JsonNode *
get_json (ImgxferImageioHttp *self, const char *path_suffix, const char *query,
          const char *what, GCancellable *cancellable, GError **error)
{
  g_autofree char *path
      = g_strconcat (g_uri_get_path (self->uri), path_suffix, NULL);
  g_autoptr (GUri) uri
      = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (self->uri), NULL,
                     g_uri_get_host (self->uri), g_uri_get_port (self->uri),
                     path, query, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri ("GET", uri);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) body = NULL;

  stream = send_message (self, msg, what, cancellable, error);
  if (stream == NULL
      || !expect_status (self, msg, stream, what, cancellable, error))
    return NULL;
  body = read_body (self, stream, JSON_BODY_MAX, what, cancellable, error);
  if (body == NULL)
    return NULL;
  return parse_json (self, body, what, error);
}

/* A member of a server's JSON answer, or @fallback when it is missing or
 * not a scalar: json-glib's own *_with_default() fail an assertion on an
 * array or object, which a hostile server would send. */
static gint64
int_member (JsonObject *object, const char *name, gint64 fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_int (node)
                                              : fallback;
}

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_string (node)
                                              : NULL;
}

static gboolean
bool_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_boolean (node);
}

void
_imgxfer_imageio_read_features (JsonObject *object,
                                ImgxferImageioFeatures *features)
{
  JsonNode *node = json_object_get_member (object, "features");
  JsonArray *names = node && JSON_NODE_HOLDS_ARRAY (node)
                         ? json_node_get_array (node)
                         : NULL;
  const char *unix_socket = string_member (object, "unix_socket");

  for (guint i = 0; names && i < json_array_get_length (names); i++)
    {
      JsonNode *element = json_array_get_element (names, i);
      const char *name = json_node_get_value_type (element) == G_TYPE_STRING
                             ? json_node_get_string (element)
                             : NULL;

      if (g_strcmp0 (name, "zero") == 0)
        features->can_zero = TRUE;
      else if (g_strcmp0 (name, "flush") == 0)
        features->can_flush = TRUE;
      else if (g_strcmp0 (name, "extents") == 0)
        features->can_extents = TRUE;
      else if (g_strcmp0 (name, "checksum") == 0)
        features->can_checksum = TRUE;
    }
  /* An old server that gives no numbers is taken to serve one client,
   * as imageio's client does. */
  features->max_readers
      = CLAMP (int_member (object, "max_readers", 1), 1, G_MAXUINT);
  features->max_writers
      = CLAMP (int_member (object, "max_writers", 1), 1, G_MAXUINT);
  features->virtual_size = int_member (object, "virtual_size", -1);
  /* An abstract socket's name starts with a NUL byte, which a C string
   * cannot carry: such a server is reached through TLS. */
  if (unix_socket != NULL && unix_socket[0] != '\0')
    features->unix_socket = g_strdup (unix_socket);
}

gboolean
_imgxfer_imageio_http_options (ImgxferImageioHttp *self,
                               ImgxferImageioFeatures *features,
                               GCancellable *cancellable, GError **error)
{
  g_autoptr (SoupMessage) msg
      = soup_message_new_from_uri ("OPTIONS", self->uri);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonNode) root = NULL;
  guint status;

  memset (features, 0, sizeof *features);
  features->max_readers = features->max_writers = 1;
  features->virtual_size = -1;

  stream = send_message (self, msg, "OPTIONS", cancellable, error);
  if (stream == NULL)
    return FALSE;

  /* 405: an old daemon; 204: an old proxy; 501: a web server that is not
   * imageio. All of them have no features. */
  status = soup_message_get_status (msg);
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED
      || status == SOUP_STATUS_NO_CONTENT
      || status == SOUP_STATUS_NOT_IMPLEMENTED)
    return finish_body (stream, cancellable, error);
  if (status != SOUP_STATUS_OK)
    return set_status_error (self, msg, stream, "OPTIONS", cancellable, error);

  body = read_body (self, stream, JSON_BODY_MAX, "OPTIONS", cancellable, error);
  if (body == NULL)
    return FALSE;
  /* A body that is not a JSON object: no features either. */
  root = parse_json (self, body, "OPTIONS", NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    _imgxfer_imageio_read_features (json_node_get_object (root), features);
  return TRUE;
}

static gboolean
check_content_range (ImgxferImageioHttp *self, SoupMessage *msg, gsize length,
                     guint64 offset, GError **error)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  goffset start = 0, end = 0, total = 0;
  guint status = soup_message_get_status (msg);

  /* A server that ignores Range answers 200 with the whole image: right
   * only when that is what was asked. */
  if (status == SOUP_STATUS_OK)
    {
      if (offset == 0
          && soup_message_headers_get_content_length (headers)
                 == (goffset)length)
        return TRUE;
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the server ignored the Range of a read at offset "
                   "%" G_GUINT64_FORMAT,
                   self->name, offset);
      return FALSE;
    }
  if (soup_message_headers_get_content_range (headers, &start, &end, &total)
      && start == (goffset)offset && end == (goffset)(offset + length - 1))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s: the server answered a read of %" G_GSIZE_FORMAT
               " bytes at offset %" G_GUINT64_FORMAT " with another range",
               self->name, length, offset);
  return FALSE;
}

gboolean
_imgxfer_imageio_http_get (ImgxferImageioHttp *self, void *buffer, gsize length,
                           guint64 offset, GCancellable *cancellable,
                           GError **error)
{
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri ("GET", self->uri);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *what
      = g_strdup_printf ("read at offset %" G_GUINT64_FORMAT, offset);
  gsize n = 0;

  soup_message_headers_set_range (soup_message_get_request_headers (msg),
                                  offset, offset + length - 1);
  stream = send_message (self, msg, what, cancellable, error);
  if (stream == NULL
      || !expect_status (self, msg, stream, what, cancellable, error))
    return FALSE;
  if (!check_content_range (self, msg, length, offset, error))
    {
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }

  if (!g_input_stream_read_all (stream, buffer, length, &n, cancellable,
                                &local_error)
      || !finish_body (stream, cancellable, &local_error))
    {
      set_body_error (self, local_error, what, error);
      return FALSE;
    }
  if (n < length)
    {
      /* The connection ended before the body did. */
      note_failure (self, TRUE, "the response ended early");
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ,
                   "%s: %s: the server sent %" G_GSIZE_FORMAT
                   " bytes of %" G_GSIZE_FORMAT,
                   self->name, what, n, length);
      return FALSE;
    }
  return TRUE;
}

/* The total of "bytes A-B/SIZE", or of "bytes *" "/SIZE". */
static gboolean
content_range_total (SoupMessage *msg, guint64 *size)
{
  const char *value = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "Content-Range");
  const char *slash = value ? strrchr (value, '/') : NULL;
  char *end;

  if (slash == NULL || !g_ascii_isdigit (slash[1]))
    return FALSE;
  *size = g_ascii_strtoull (slash + 1, &end, 10);
  return *end == '\0';
}

/* The first byte, whose Content-Range gives the size; a server that
 * ignores Range gives it as the Content-Length of the whole image, whose
 * body is not read (the connection is closed instead). */
gboolean
_imgxfer_imageio_http_get_size (ImgxferImageioHttp *self, guint64 *size,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri ("GET", self->uri);
  g_autoptr (GInputStream) stream = NULL;
  goffset length;
  guint status;

  soup_message_headers_set_range (soup_message_get_request_headers (msg), 0, 0);
  stream = send_message (self, msg, "size query", cancellable, error);
  if (stream == NULL)
    return FALSE;

  status = soup_message_get_status (msg);
  /* 416 with a total of 0: an empty image. */
  if ((status == SOUP_STATUS_PARTIAL_CONTENT
       || status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE)
      && content_range_total (msg, size))
    return finish_body (stream, cancellable, error);
  if (status != SOUP_STATUS_OK)
    return set_status_error (self, msg, stream, "size query", cancellable,
                             error);

  length = soup_message_headers_get_content_length (
      soup_message_get_response_headers (msg));
  g_input_stream_close (stream, NULL, NULL);
  if (soup_message_headers_get_encoding (
          soup_message_get_response_headers (msg))
      != SOUP_ENCODING_CONTENT_LENGTH)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the server gives no size for the image", self->name);
      return FALSE;
    }
  *size = length;
  return TRUE;
}

#define BODY_KEY "imgxfer-imageio-body"

static void
on_restarted (SoupMessage *msg, gpointer data)
{
  GBytes *body = g_object_get_data (G_OBJECT (msg), BODY_KEY);

  soup_message_set_request_body_from_bytes (msg, data, body);
}

/* libsoup sends a request again on a new connection when the one it
 * reused broke before the response, and drops the request's body stream
 * on the way: a PUT went out again with its Content-Range and an empty
 * body. imageio, which reads the range's first byte only, writes nothing
 * and answers 200: a range of the image never written, the copy
 * reported complete. The body is set again each time. */
static void
set_request_body (SoupMessage *msg, const char *content_type, GBytes *body)
{
  g_object_set_data_full (G_OBJECT (msg), BODY_KEY, g_bytes_ref (body),
                          (GDestroyNotify)g_bytes_unref);
  soup_message_set_request_body_from_bytes (msg, content_type, body);
  g_signal_connect (msg, "restarted", G_CALLBACK (on_restarted),
                    (gpointer)content_type);
}

gboolean
_imgxfer_imageio_http_put (ImgxferImageioHttp *self, const void *buffer,
                           gsize length, guint64 offset, gboolean flush,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr (SoupMessage) msg
      = soup_message_new_from_uri ("PUT", flush ? self->uri : self->put_uri);
  g_autoptr (GBytes) body = g_bytes_new_static (buffer, length);
  g_autofree char *range
      = g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/*",
                         offset, offset + length - 1);
  g_autofree char *what
      = g_strdup_printf ("write at offset %" G_GUINT64_FORMAT, offset);
  gboolean ok;

  /* The body is the caller's buffer itself; the message is done with it
   * once the response has been read, before this returns. */
  set_request_body (msg, "application/octet-stream", body);
  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Content-Range", range);
  ok = send_simple (self, msg, what, cancellable, error);
  soup_message_set_request_body (msg, NULL, NULL, 0);
  g_object_set_data (G_OBJECT (msg), BODY_KEY, NULL);
  return ok;
}

static gboolean
patch (ImgxferImageioHttp *self, char *json, const char *what,
       GCancellable *cancellable, GError **error)
{
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri ("PATCH", self->uri);
  g_autoptr (GBytes) body = g_bytes_new_take (json, strlen (json));

  set_request_body (msg, "application/json", body);
  /* Zero and flush may be sent twice with the same result: libsoup then
   * sends them on the kept-alive connection instead of a new one each. */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  return send_simple (self, msg, what, cancellable, error);
}

gboolean
_imgxfer_imageio_http_zero (ImgxferImageioHttp *self, guint64 offset,
                            guint64 length, gboolean flush,
                            GCancellable *cancellable, GError **error)
{
  g_autofree char *what
      = g_strdup_printf ("zero at offset %" G_GUINT64_FORMAT, offset);

  return patch (
      self,
      g_strdup_printf ("{\"op\": \"zero\", \"offset\": %" G_GUINT64_FORMAT
                       ", \"size\": %" G_GUINT64_FORMAT ", \"flush\": %s}",
                       offset, length, flush ? "true" : "false"),
      what, cancellable, error);
}

gboolean
_imgxfer_imageio_http_flush (ImgxferImageioHttp *self,
                             GCancellable *cancellable, GError **error)
{
  return patch (self, g_strdup ("{\"op\": \"flush\"}"), "flush", cancellable,
                error);
}

static gboolean
read_extent (JsonNode *node, ImgxferExtentContext context,
             guint64 expected_start, ImgxferExtent *extent)
{
  JsonObject *object
      = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  gint64 start, length;

  if (object == NULL)
    return FALSE;
  start = int_member (object, "start", -1);
  length = int_member (object, "length", -1);
  if (start != (gint64)expected_start || length <= 0)
    return FALSE;

  extent->start = start;
  extent->length = length;
  extent->flags = 0;
  if (bool_member (object, "zero"))
    extent->flags |= IMGXFER_EXTENT_ZERO;
  if (context == IMGXFER_EXTENT_CONTEXT_ZERO && bool_member (object, "hole"))
    extent->flags |= IMGXFER_EXTENT_HOLE;
  if (context == IMGXFER_EXTENT_CONTEXT_DIRTY && bool_member (object, "dirty"))
    extent->flags |= IMGXFER_EXTENT_DIRTY;
  return TRUE;
}

GArray *
_imgxfer_imageio_http_extents (ImgxferImageioHttp *self,
                               ImgxferExtentContext context,
                               GCancellable *cancellable, GError **error)
{
  const char *name = context == IMGXFER_EXTENT_CONTEXT_DIRTY ? "dirty" : "zero";
  g_autofree char *query = g_strconcat ("context=", name, NULL);
  g_autofree char *what = g_strdup_printf ("%s extents", name);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonNode) root = NULL;

  root = get_json (self, "/extents", query, what, cancellable, &local_error);
  if (root == NULL)
    {
      /* imageio's answer when the ticket has no such extents. */
      if (g_error_matches (local_error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_FOUND))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     "%s: the server offers no %s extents", self->name, name);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return _imgxfer_imageio_read_extents (root, context, self->name, error);
}

GArray *
_imgxfer_imageio_read_extents (JsonNode *root, ImgxferExtentContext context,
                               const char *name, GError **error)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();
  JsonArray *array;
  guint64 end = 0;

  array = JSON_NODE_HOLDS_ARRAY (root) ? json_node_get_array (root) : NULL;
  for (guint i = 0; array && i < json_array_get_length (array); i++)
    {
      ImgxferExtent e;

      if (!read_extent (json_array_get_element (array, i), context, end, &e))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: the server sent a bad extent after offset "
                       "%" G_GUINT64_FORMAT,
                       name, end);
          return NULL;
        }
      imgxfer_extents_append (extents, e.start, e.length, e.flags);
      end = e.start + e.length;
    }
  if (array == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: the server's extents are not a list", name);
      return NULL;
    }
  return g_steal_pointer (&extents);
}

JsonNode *
_imgxfer_imageio_http_checksum (ImgxferImageioHttp *self, const char *algorithm,
                                gsize block_size, GCancellable *cancellable,
                                GError **error)
{
  g_autoptr (GString) query = g_string_new (NULL);

  if (algorithm != NULL)
    g_string_append_printf (query, "algorithm=%s", algorithm);
  if (block_size != 0)
    g_string_append_printf (query, "%sblock_size=%" G_GSIZE_FORMAT,
                            query->len ? "&" : "", block_size);
  return get_json (self, "/checksum", query->len ? query->str : NULL,
                   "checksum", cancellable, error);
}

char *
_imgxfer_imageio_read_checksum (JsonNode *root, const char *algorithm,
                                gsize block_size, const char *name,
                                GError **error)
{
  JsonObject *object
      = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  const char *checksum = object ? string_member (object, "checksum") : NULL;

  if (checksum == NULL
      || g_strcmp0 (string_member (object, "algorithm"), algorithm) != 0
      || int_member (object, "block_size", 0) != (gint64)block_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: the server's checksum is not the one asked for (%s, "
                   "block size %" G_GSIZE_FORMAT ")",
                   name, algorithm, block_size);
      return NULL;
    }
  return g_strdup (checksum);
}
