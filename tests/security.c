/* security.c: what `imgxfer serve` refuses, and that refusing touches
 * nothing
 *
 * A real daemon over TLS, and clients that do what no imageio client
 * does: ranges outside the ticket, a deleted or read-only ticket, the
 * control API asked through the image services, ticket ids that look
 * like paths, oversized headers and bodies, connections that never send
 * a request, and certificates a client must refuse. Requests are written
 * byte by byte over TLS where libsoup's client would not send them. Each
 * refusal is checked for its status, and the image for its digest.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-daemon.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define TICKET_SIZE MiB
/* The image is larger than its tickets: what lies past them must stay. */
#define IMAGE_SIZE (2 * MiB)

static char *tmpdir;
static char *ca_file;
static char *cert_file;
static char *key_file;
static TestDaemon daemon_;

/* An image of IMAGE_SIZE bytes, byte i = i % 251 + 1. */
static char *
make_image (const char *name)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autofree guint8 *data = g_malloc (IMAGE_SIZE);

  for (gsize i = 0; i < IMAGE_SIZE; i++)
    data[i] = i % 251 + 1;
  g_assert_true (g_file_set_contents (path, (char *)data, IMAGE_SIZE, NULL));
  return path;
}

static guint
control (const char *method, const char *escaped_id, const char *body)
{
  g_autofree char *url
      = g_strdup_printf ("http://localhost/tickets/%s", escaped_id);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (msg);
  if (body)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  reply
      = soup_session_send_and_read (daemon_.control_session, msg, NULL, &error);
  g_assert_no_error (error);
  return soup_message_get_status (msg);
}

/* @id needs no escaping in a URL. */
static void
add_ticket (const char *id, const char *path, const char *ops)
{
  g_autofree char *body = g_strdup_printf (
      "{\"uuid\": \"%s\", \"url\": \"file://%s\", \"size\": %d, "
      "\"ops\": [\"%s\"], \"timeout\": 300}",
      id, path, TICKET_SIZE, ops);

  g_assert_cmpuint (control ("PUT", id, body), ==, 200);
}

/* The ticket's JSON as the control service reports it, NULL when it
 * has no such ticket. */
static JsonNode *
ticket_info (const char *escaped_id)
{
  g_autofree char *url
      = g_strdup_printf ("http://localhost/tickets/%s", escaped_id);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *text = NULL;

  reply = soup_session_send_and_read (daemon_.control_session, msg, NULL, NULL);
  g_assert_nonnull (reply);
  if (soup_message_get_status (msg) == 404)
    return NULL;
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  text = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  return test_parse_json (text);
}

/* Writes @request on @stream and reads the answer to the end (the
 * requests ask the connection to close); a write the server cut short is
 * not an error: it may answer before the body and close. The write's
 * error is still taken, and dropped: with none to fill, glib-networking
 * 2.74 leaks it (valgrind's "definitely lost"). */
static char *
exchange (GIOStream *stream, const char *request, gsize length)
{
  GString *response = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  char buffer[65536];
  gssize n;

  g_output_stream_write_all (g_io_stream_get_output_stream (stream), request,
                             length, NULL, NULL, &error);
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (stream),
                                   buffer, sizeof buffer, NULL, NULL))
         > 0)
    g_string_append_len (response, buffer, n);
  return g_string_free (response, FALSE);
}

/* The status of an HTTP response, 0 when there is none. */
static guint
response_status (const char *response)
{
  if (!g_str_has_prefix (response, "HTTP/1."))
    return 0;
  return g_ascii_strtoull (response + strlen ("HTTP/1.x "), NULL, 10);
}

static const char *
response_body (const char *response)
{
  const char *end = strstr (response, "\r\n\r\n");

  return end ? end + 4 : "";
}

static GSocketConnection *
connect_to (GSocketConnectable *address)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection;

  g_socket_client_set_timeout (client, 30);
  connection = g_socket_client_connect (client, address, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

/* A TLS connection to the daemon's remote service, trusting the CA. */
static GIOStream *
connect_tls (void)
{
  g_autoptr (GSocketConnectable) address
      = g_network_address_parse_uri (daemon_.url, 443, NULL);
  g_autoptr (GSocketConnection) tcp = connect_to (address);
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, NULL);
  g_autoptr (GError) error = NULL;
  GIOStream *tls
      = g_tls_client_connection_new (G_IO_STREAM (tcp), address, &error);

  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), database);
  g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error);
  g_assert_no_error (error);
  return tls;
}

/* Sends @length bytes of @request to the remote service, over TLS, and
 * returns the whole response. */
static char *
raw_remote (const char *request, gsize length)
{
  g_autoptr (GIOStream) tls = connect_tls ();

  return exchange (tls, request, length);
}

/* The same, in plain HTTP, on the unix socket @path. */
static char *
raw_unix (const char *path, const char *request)
{
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) connection
      = connect_to (G_SOCKET_CONNECTABLE (address));

  return exchange (G_IO_STREAM (connection), request, strlen (request));
}

/* A request for @target with @headers (each ending in CRLF) and @body,
 * which the server answers and closes. */
static char *
build_request (const char *method, const char *target, const char *headers,
               const char *body, gsize *length)
{
  GString *request = g_string_new (NULL);

  g_string_append_printf (request,
                          "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\n%s",
                          method, target, headers ? headers : "");
  if (body)
    g_string_append_printf (request, "Content-Length: %zu\r\n", strlen (body));
  g_string_append (request, "\r\n");
  if (body)
    g_string_append (request, body);
  *length = request->len;
  return g_string_free (request, FALSE);
}

/* Sends the request over TLS; returns its status, and the response in
 * @response when wanted. */
static guint
remote (const char *method, const char *target, const char *headers,
        const char *body, char **response)
{
  gsize length;
  g_autofree char *request
      = build_request (method, target, headers, body, &length);
  g_autofree char *out = raw_remote (request, length);
  guint status = response_status (out);

  if (response)
    *response = g_steal_pointer (&out);
  return status;
}

/* The same on the local service, in plain HTTP: the same libsoup server
 * and handlers behind another listener. For requests the daemon cuts
 * short while they are written: glib-networking 2.74 leaks the GError of
 * a TLS write to a peer that closed, which the sanitizer run reports. */
static guint
local (const char *method, const char *target, const char *headers,
       const char *body)
{
  gsize length;
  g_autofree char *request
      = build_request (method, target, headers, body, &length);
  g_autofree char *out = raw_unix (daemon_.local, request);

  return response_status (out);
}

static void
assert_refused_range (const char *method, const char *target,
                      const char *headers, const char *body)
{
  g_autofree char *response = NULL;
  guint status = remote (method, target, headers, body, &response);

  if (status != 416)
    g_error ("%s %s %s: %u", method, target, headers ? headers : "", status);
  g_assert_nonnull (
      strstr (response, "\r\nContent-Range: bytes */1048576\r\n"));
}

/* Not a byte outside [0, ticket size) is read or written, though the
 * file goes on. */
static void
test_outside_range (void)
{
  g_autofree char *path = make_image ("range.raw");
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;
  g_autofree char *past_end = g_strnfill (TICKET_SIZE + 1, 'x');

  add_ticket ("range", path, "write");
  assert_refused_range ("GET", "/images/range",
                        "Range: bytes=1048576-1048576\r\n", NULL);
  assert_refused_range ("GET", "/images/range",
                        "Range: bytes=1048575-1048576\r\n", NULL);
  assert_refused_range ("GET", "/images/range", "Range: bytes=1048576-\r\n",
                        NULL);
  assert_refused_range ("PUT", "/images/range",
                        "Content-Range: bytes 1048576-1048579/*\r\n", "xxxx");
  assert_refused_range ("PUT", "/images/range",
                        "Content-Range: bytes 1048574-1048577/*\r\n", "xxxx");
  g_assert_cmpuint (local ("PUT", "/images/range", NULL, past_end), ==, 416);
  assert_refused_range ("PATCH", "/images/range", NULL,
                        "{\"op\": \"zero\", \"offset\": 1048576, \"size\": 1}");
  assert_refused_range ("PATCH", "/images/range", NULL,
                        "{\"op\": \"zero\", \"offset\": 0, \"size\": 1048577}");
  assert_refused_range (
      "PATCH", "/images/range", NULL,
      "{\"op\": \"zero\", \"offset\": 9223372036854775807, \"size\": 2}");

  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);
}

static guint
session_status (SoupSession *session, const char *method, const char *url,
                const char *body)
{
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;

  if (body)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, NULL, bytes);
    }
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  return soup_message_get_status (msg);
}

/* After DELETE a ticket opens nothing, on a new connection or on one
 * that used it before. */
static void
test_deleted_ticket (void)
{
  g_autofree char *path = make_image ("deleted.raw");
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;
  g_autofree char *url = g_strconcat (daemon_.url, "/images/deleted", NULL);
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, NULL);
  g_autoptr (SoupSession) session
      = soup_session_new_with_options ("tls-database", database, NULL);
  g_autoptr (JsonNode) info = NULL;

  add_ticket ("deleted", path, "write");
  g_assert_cmpuint (session_status (session, "OPTIONS", url, NULL), ==, 200);
  g_assert_cmpuint (control ("DELETE", "deleted", NULL), ==, 204);

  g_assert_cmpuint (session_status (session, "GET", url, NULL), ==, 403);
  g_assert_cmpuint (session_status (session, "PUT", url, "data"), ==, 403);
  g_assert_cmpuint (session_status (session, "PATCH", url,
                                    "{\"op\": \"zero\", \"size\": 4096}"),
                    ==, 403);
  g_assert_cmpuint (session_status (session, "OPTIONS", url, NULL), ==, 403);
  g_assert_cmpuint (remote ("PUT", "/images/deleted", NULL, "data", NULL), ==,
                    403);
  g_assert_cmpuint (remote ("GET", "/images/deleted/extents", NULL, NULL, NULL),
                    ==, 403);
  info = ticket_info ("deleted");
  g_assert_null (info);

  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);
}

/* A read ticket writes nothing, by any request. */
static void
test_read_only_ticket (void)
{
  g_autofree char *path = make_image ("read-only.raw");
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;
  g_autofree char *response = NULL;

  add_ticket ("read-only", path, "read");
  g_assert_cmpuint (
      remote ("PUT", "/images/read-only", NULL, "data", &response), ==, 403);
  g_assert_cmpstr (response_body (response), ==,
                   "You are not allowed to access this resource: "
                   "Transfer=(ticket/read-only) forbids write\n");
  g_assert_cmpuint (remote ("PUT", "/images/read-only?flush=n",
                            "Content-Range: bytes 0-3/*\r\n", "data", NULL),
                    ==, 403);
  g_assert_cmpuint (remote ("PATCH", "/images/read-only", NULL,
                            "{\"op\": \"zero\", \"offset\": 0, \"size\": "
                            "1048576, \"flush\": true}",
                            NULL),
                    ==, 403);
  g_assert_cmpuint (
      remote ("PATCH", "/images/read-only", NULL, "{\"op\": \"flush\"}", NULL),
      ==, 403);

  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);
}

/* The control API answers on its own socket only: through the remote
 * and the local service no ticket is shown, added, changed or removed,
 * however the path is spelled. */
static void
test_control_not_served (void)
{
  static const char *const targets[]
      = { "/tickets/control", "/tickets/", "/images/../tickets/control",
          "/images/%2e%2e/tickets/control", "/tickets/control/../control" };
  static const char *const methods[] = { "GET", "PUT", "PATCH", "DELETE" };
  const char *body = "{\"timeout\": 1}";
  g_autofree char *path = make_image ("control.raw");
  g_autoptr (JsonNode) before = NULL;
  g_autoptr (JsonNode) after = NULL;
  g_autoptr (JsonNode) added = NULL;

  add_ticket ("control", path, "read");
  before = ticket_info ("control");
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    for (guint j = 0; j < G_N_ELEMENTS (methods); j++)
      {
        gboolean with_body = g_str_equal (methods[j], "PUT")
                             || g_str_equal (methods[j], "PATCH");
        gsize length;
        g_autofree char *request = build_request (
            methods[j], targets[i], NULL, with_body ? body : NULL, &length);
        g_autofree char *over_tls = raw_remote (request, length);
        g_autofree char *over_local = raw_unix (daemon_.local, request);

        if (response_status (over_tls) != 404
            || response_status (over_local) != 404)
          g_error ("%s %s: remote answered %u, local %u", methods[j],
                   targets[i], response_status (over_tls),
                   response_status (over_local));
      }
  g_assert_cmpuint (remote ("PUT", "/tickets/added", NULL,
                            "{\"uuid\": \"added\", \"url\": \"file:///\", "
                            "\"size\": 1, \"ops\": [\"read\"], "
                            "\"timeout\": 300}",
                            NULL),
                    ==, 404);

  /* Still there, with the expiry it had: no PATCH or DELETE went
   * through; and nothing was added. */
  after = ticket_info ("control");
  g_assert_nonnull (after);
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (after), "timeout"), ==,
      json_object_get_int_member (json_node_get_object (before), "timeout"));
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (after), "expires"), ==,
      json_object_get_int_member (json_node_get_object (before), "expires"));
  added = ticket_info ("added");
  g_assert_null (added);
}

/* Ticket ids are opaque strings, never paths: ids made of dots and
 * slashes, NUL bytes and 10 KiB ids open only the ticket of exactly that
 * id, or nothing. */
static void
test_ticket_ids (void)
{
  static const struct
  {
    const char *target;
    guint status;
  } refused[] = {
    { "/images/../control.sock", 404 },
    { "/images/%2e%2e/control.sock", 404 },
    { "/images/%2e%2e%2fcontrol.sock", 400 },
    { "/images/..%2f..%2fstate%2fkey.pem", 400 },
    { "/images/ids%00", 400 },
    { "/images/ids%2500", 403 },
    { "/images/.", 400 }, /* "/images/": no id */
    { "/images/ids/.", 403 },
    { "/images/./ids", 206 }, /* the same path, spelled otherwise */
  };
  g_autofree char *path = make_image ("ids.raw");
  g_autofree char *long_id = g_strnfill (10 * 1024, 'i');
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;

  g_autoptr (GString) wrong = g_string_new (NULL);

  add_ticket ("ids", path, "write");
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      guint status = remote ("GET", refused[i].target, "Range: bytes=0-3\r\n",
                             NULL, NULL);

      if (status != refused[i].status)
        g_string_append_printf (wrong, "GET %s: %u, not %u; ",
                                refused[i].target, status, refused[i].status);
    }
  g_assert_cmpstr (wrong->str, ==, "");
  {
    /* A NUL byte in the request line. */
    static const char request[]
        = "GET /images/ids\0/x HTTP/1.1\r\n"
          "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
    g_autofree char *response = raw_remote (request, sizeof request - 1);

    g_assert_cmpuint (response_status (response), ==, 400);
  }

  /* A 10 KiB id is an id like another: it opens its ticket, and an id
   * one byte shorter opens nothing. */
  add_ticket (long_id, path, "read");
  {
    g_autofree char *target = g_strconcat ("/images/", long_id, NULL);
    g_autofree char *response = NULL;

    g_assert_cmpuint (
        remote ("GET", target, "Range: bytes=0-3\r\n", NULL, &response), ==,
        206);
    g_assert_cmpmem (response_body (response), 4, "\1\2\3\4", 4);
    target[strlen (target) - 1] = '\0';
    g_assert_cmpuint (remote ("GET", target, NULL, NULL, NULL), ==, 403);
    g_assert_cmpuint (remote ("PUT", target, NULL, "data", NULL), ==, 403);
  }
  g_assert_cmpuint (control ("DELETE", long_id, NULL), ==, 204);

  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);
}

/* Oversized headers are refused and cost the daemon nothing lasting: it
 * answers the next client. */
static void
test_oversized_headers (void)
{
  g_autofree char *path = make_image ("headers.raw");
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;
  g_autofree char *huge_value = g_strnfill (MiB, 'h');
  g_autofree char *huge = g_strdup_printf ("X-Huge: %s\r\n", huge_value);
  GString *many = g_string_new (NULL);
  g_autofree char *many_headers = NULL;

  add_ticket ("headers", path, "write");
  for (guint i = 0; i < 100000; i++)
    g_string_append_printf (many, "X-Header-%u: v\r\n", i);
  many_headers = g_string_free (many, FALSE);

  /* libsoup closes the connection without an answer. */
  g_assert_cmpuint (local ("GET", "/images/headers", huge, NULL), ==, 0);
  g_assert_cmpuint (local ("GET", "/images/headers", many_headers, NULL), ==,
                    0);
  g_assert_cmpuint (local ("PUT", "/images/headers", huge, "data"), ==, 0);
  g_assert_cmpuint (local ("PUT", "/images/headers", many_headers, "data"), ==,
                    0);

  g_assert_cmpuint (
      remote ("GET", "/images/headers", "Range: bytes=0-3\r\n", NULL, NULL), ==,
      206);
  g_assert_cmpint (kill (daemon_.pid, 0), ==, 0);
  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);
}

/* A body larger than its Content-Range or than the ticket is refused
 * before a byte of it is written; bytes past Content-Length are not
 * part of the body. */
static void
test_oversized_body (void)
{
  g_autofree char *path = make_image ("body.raw");
  g_autofree char *before = test_file_digest (path);
  g_autofree char *after = NULL;
  g_autofree char *twenty = g_strnfill (20, 'z');
  g_autofree char *too_long = g_strnfill (TICKET_SIZE + 4096, 'z');
  g_autofree char *response = NULL;

  add_ticket ("body", path, "write");
  g_assert_cmpuint (remote ("PUT", "/images/body",
                            "Content-Range: bytes 0-9/*\r\n", twenty,
                            &response),
                    ==, 400);
  g_assert_cmpstr (response_body (response), ==,
                   "Content-Range 'bytes 0-9/*' does not match "
                   "Content-Length 20\n");
  g_assert_cmpuint (remote ("PUT", "/images/body",
                            "Content-Range: bytes 0-29/*\r\n", twenty, NULL),
                    ==, 400);
  g_assert_cmpuint (remote ("PUT", "/images/body",
                            "Content-Range: bytes 1048570-1048589/*\r\n",
                            twenty, NULL),
                    ==, 416);
  g_assert_cmpuint (local ("PUT", "/images/body", NULL, too_long), ==, 416);
  after = test_file_digest (path);
  g_assert_cmpstr (after, ==, before);

  {
    /* 4 bytes of body, then 400 that are not: only 4 are written. */
    g_autofree char *tail = g_strnfill (400, 'z');
    g_autofree char *request = g_strdup_printf (
        "PUT /images/body HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Length: 4\r\n\r\nzzzz%s",
        tail);
    g_autofree char *out = raw_remote (request, strlen (request));
    g_autofree char *contents = NULL;
    gsize length;

    g_assert_cmpuint (response_status (out), ==, 200);
    g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
    g_assert_cmpuint (length, ==, IMAGE_SIZE);
    g_assert_cmpmem (contents, 4, "zzzz", 4);
    for (gsize i = 4; i < length; i++)
      if ((guint8)contents[i] != i % 251 + 1)
        g_error ("byte %zu of the image was changed", i);
  }
}

/* Open descriptors of @pid. */
static guint
count_fds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint count = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    count++;
  return count;
}

/* Whether the server closed @socket: its end of the stream (or a reset)
 * is there to read, after whatever else it sent. */
static gboolean
closed_by_server (GSocket *socket)
{
  char buffer[4096];
  gssize n;

  while (
      (n = recv (g_socket_get_fd (socket), buffer, sizeof buffer, MSG_DONTWAIT))
      > 0)
    ;
  return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

#define IDLE_TIMEOUT 4
#define N_SILENT 100
#define N_HALF 100

/* Slow-loris: 100 connections that send nothing and 100 that complete
 * TLS and send half a request line starve no real client, and the
 * daemon closes every one of them after its idle timeout. */
static void
test_slow_loris (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "loris", NULL);
  g_autofree char *path = make_image ("loris.raw");
  g_autofree char *config
      = g_strdup_printf ("inactivity_timeout = %d\n", IDLE_TIMEOUT);
  g_autoptr (GPtrArray) streams
      = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) sockets = g_ptr_array_new ();
  TestDaemon saved = daemon_;
  guint baseline, open;
  gint64 start, deadline;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  test_daemon_start (&daemon_, dir, ca_file, cert_file, key_file, config);
  add_ticket ("loris", path, "read");
  g_assert_cmpuint (
      remote ("GET", "/images/loris", "Range: bytes=0-3\r\n", NULL, NULL), ==,
      206);
  baseline = count_fds (daemon_.pid);

  /* The half requests first: their TLS handshakes must not wait behind
   * those the daemon starts, and fails at once, for the silent
   * connections the kernel hands over after the idle timeout. */
  for (guint i = 0; i < N_HALF; i++)
    {
      GIOStream *tls = connect_tls ();
      GIOStream *base = NULL;
      static const char half[] = "GET /images/loris HT";

      g_assert_true (
          g_output_stream_write_all (g_io_stream_get_output_stream (tls), half,
                                     strlen (half), NULL, NULL, NULL));
      g_object_get (tls, "base-io-stream", &base, NULL);
      g_ptr_array_add (streams, tls);
      g_ptr_array_add (
          sockets, g_socket_connection_get_socket (G_SOCKET_CONNECTION (base)));
      g_object_unref (base);
    }

  for (guint i = 0; i < N_SILENT; i++)
    {
      g_autoptr (GSocketConnectable) address
          = g_network_address_parse_uri (daemon_.url, 443, NULL);
      GSocketConnection *connection = connect_to (address);

      g_ptr_array_add (streams, connection);
      g_ptr_array_add (sockets, g_socket_connection_get_socket (connection));
    }
  /* A real client, on a new connection, is served at once (without the
   * daemon's defences it waited more than 20 s; 10 s leave room for a
   * loaded machine and the sanitizers). */
  start = g_get_monotonic_time ();
  g_assert_cmpuint (
      remote ("GET", "/images/loris", "Range: bytes=0-3\r\n", NULL, NULL), ==,
      206);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);

  /* The kernel holds a silent connection for the idle timeout
   * (TCP_DEFER_ACCEPT rounds it up to its SYN-ACK retries), then the
   * daemon closes it; a half request is closed after the idle timeout. */
  deadline = g_get_monotonic_time () + (4 * IDLE_TIMEOUT + 20) * G_USEC_PER_SEC;
  do
    {
      open = 0;
      for (guint i = 0; i < sockets->len; i++)
        open += !closed_by_server (sockets->pdata[i]);
      if (open > 0)
        g_usleep (G_USEC_PER_SEC / 4);
    }
  while (open > 0 && g_get_monotonic_time () < deadline);
  g_assert_cmpuint (open, ==, 0);

  g_ptr_array_set_size (streams, 0);
  for (int i = 0; i < 100 && count_fds (daemon_.pid) > baseline; i++)
    g_usleep (G_USEC_PER_SEC / 10);
  g_assert_cmpuint (count_fds (daemon_.pid), <=, baseline);
  g_assert_cmpuint (
      remote ("GET", "/images/loris", "Range: bytes=0-3\r\n", NULL, NULL), ==,
      206);
  g_assert_cmpint (test_daemon_stop (&daemon_), ==, 0);
  daemon_ = saved;
}

#define STALL_TIMEOUT 3
#define STALL_SIZE (256 * MiB)
/* Each holds at least one GET chunk (256 KiB) of the daemon's 32 MiB of
 * body buffers, and together more than all of them. */
#define N_READERS 150
/* Each holds a 2 MiB PUT buffer: 16 hold them all. */
#define N_WRITERS 24

/* A request written over TLS, its connection kept in @streams and never
 * read from again. */
static void
send_and_stall (GPtrArray *streams, const char *request, gsize length)
{
  GIOStream *tls = connect_tls ();

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (tls),
                                            request, length, NULL, NULL, NULL));
  g_ptr_array_add (streams, tls);
}

/* Sockets open in @pid: its listeners and its client connections. */
static guint
count_sockets (GPid pid)
{
  g_autoptr (GPtrArray) targets = test_fd_targets (pid);
  guint count = 0;

  for (guint i = 0; i < targets->len; i++)
    count += g_str_has_prefix (targets->pdata[i], "socket:");
  return count;
}

/* Waits until the daemon holds no more sockets than @baseline, up to
 * @seconds; returns how many it holds then. Its backends' files are not
 * counted: a writer's is flushed before it is closed, which takes what
 * the disk takes. */
static guint
wait_sockets (guint baseline, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  guint open;

  while ((open = count_sockets (daemon_.pid)) > baseline
         && g_get_monotonic_time () < deadline)
    g_usleep (G_USEC_PER_SEC / 4);
  g_test_message ("%u sockets, %.1f s later", open,
                  seconds - (deadline - g_get_monotonic_time ()) / 1e6);
  return open;
}

/* A GET of @size bytes read in 64 KiB pieces every @interval_ms: returns
 * the body's length once the daemon closed the connection. */
static gsize
slow_get (guint64 size, guint interval_ms)
{
  g_autoptr (GIOStream) tls = connect_tls ();
  g_autofree char *request = g_strdup_printf (
      "GET /images/stall HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: close\r\nRange: bytes=0-%" G_GUINT64_FORMAT "\r\n\r\n",
      size - 1);
  g_autoptr (GString) response = g_string_new (NULL);
  g_autofree char *buffer = g_malloc (64 * 1024);
  gsize n;

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (tls),
                                            request, strlen (request), NULL,
                                            NULL, NULL));
  /* A TLS read returns a record (16 KiB) at most: the 64 KiB are read
   * whole. */
  while (g_input_stream_read_all (g_io_stream_get_input_stream (tls), buffer,
                                  64 * 1024, &n, NULL, NULL)
         && n > 0)
    {
      g_string_append_len (response, buffer, n);
      g_usleep (interval_ms * 1000);
    }
  g_assert_cmpuint (response_status (response->str), ==, 206);
  return response->len - (response_body (response->str) - response->str);
}

/* A PUT of @pieces pieces of 64 KiB, one every @interval_ms: returns the
 * status. */
static guint
slow_put (guint pieces, guint interval_ms)
{
  g_autoptr (GIOStream) tls = connect_tls ();
  GOutputStream *out = g_io_stream_get_output_stream (tls);
  g_autofree char *request = g_strdup_printf (
      "PUT /images/stall?flush=n HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: close\r\nContent-Length: %u\r\n\r\n",
      pieces * 64 * 1024);
  g_autofree char *piece = g_strnfill (64 * 1024, 's');
  g_autofree char *response = NULL;

  g_assert_true (g_output_stream_write_all (out, request, strlen (request),
                                            NULL, NULL, NULL));
  for (guint i = 0; i + 1 < pieces; i++)
    {
      g_assert_true (
          g_output_stream_write_all (out, piece, 64 * 1024, NULL, NULL, NULL));
      g_usleep (interval_ms * 1000);
    }
  response = exchange (tls, piece, 64 * 1024);
  return response_status (response);
}

/* A request whose client stops taking the response, or stops sending its
 * body, holds memory of the daemon's body budget: enough of them starve
 * every other request unless the daemon ends each after its inactivity
 * timeout. A normal client then is served, and the stalled connections
 * are closed while their clients still hold them; a client that is slow,
 * and moves bytes all along, is not. */
static void
test_stalled_clients (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "stall", NULL);
  g_autofree char *path = g_build_filename (tmpdir, "stall.raw", NULL);
  g_autofree char *config
      = g_strdup_printf ("inactivity_timeout = %d\n", STALL_TIMEOUT);
  g_autofree char *ticket = g_strdup_printf (
      "{\"uuid\": \"stall\", \"url\": \"file://%s\", \"size\": %d, "
      "\"ops\": [\"write\"], \"timeout\": 300}",
      path, STALL_SIZE);
  g_autofree char *get
      = g_strdup_printf ("GET /images/stall HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Range: bytes=0-%d\r\n\r\n",
                         STALL_SIZE - 1);
  g_autofree char *put_body = g_strnfill (MiB, 'p');
  g_autofree char *put
      = g_strdup_printf ("PUT /images/stall HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         STALL_SIZE, put_body);
  g_autoptr (GPtrArray) streams
      = g_ptr_array_new_with_free_func (g_object_unref);
  TestDaemon saved = daemon_;
  guint baseline;
  gint64 start;
  FILE *image;

  image = fopen (path, "w");
  g_assert_nonnull (image);
  g_assert_cmpint (ftruncate (fileno (image), STALL_SIZE), ==, 0);
  fclose (image);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  test_daemon_start (&daemon_, dir, ca_file, cert_file, key_file, config);
  g_assert_cmpuint (control ("PUT", "stall", ticket), ==, 200);
  g_assert_cmpuint (
      remote ("GET", "/images/stall", "Range: bytes=0-3\r\n", NULL, NULL), ==,
      206);
  baseline = count_sockets (daemon_.pid);

  /* Readers that never read: a normal GET is served once they are
   * ended (the client gives up after 30 s: see connect_to()). */
  for (guint i = 0; i < N_READERS; i++)
    send_and_stall (streams, get, strlen (get));
  start = g_get_monotonic_time ();
  g_assert_cmpuint (remote ("GET", "/images/stall",
                            "Range: bytes=1048576-1048579\r\n", NULL, NULL),
                    ==, 206);
  g_test_message ("GET after %d stalled GETs: %.1f s", N_READERS,
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   (STALL_TIMEOUT + 10) * G_USEC_PER_SEC);
  g_assert_cmpuint (wait_sockets (baseline, 90), <=, baseline);
  g_ptr_array_set_size (streams, 0);

  /* Writers that send part of a body, then nothing. They hold the
   * image's backends too (8, imageio's limit per transfer), which the
   * first 8 waiting for memory take again: a normal PUT may wait for a
   * second round of timeouts. */
  for (guint i = 0; i < N_WRITERS; i++)
    send_and_stall (streams, put, strlen (put));
  start = g_get_monotonic_time ();
  {
    g_autofree char *response = NULL;

    if (remote ("PUT", "/images/stall?flush=n",
                "Content-Range: bytes 0-3/*\r\n", "data", &response)
        != 200)
      g_error ("PUT after stalled PUTs: %s", response);
  }
  g_test_message ("PUT after %d stalled PUTs: %.1f s", N_WRITERS,
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   (2 * STALL_TIMEOUT + 10) * G_USEC_PER_SEC);
  g_assert_cmpuint (wait_sockets (baseline, 90), <=, baseline);
  g_ptr_array_set_size (streams, 0);

  /* Past the kernel's buffers, 16 MiB taken at 1.6 MiB/s, and 1 MiB sent
   * at 160 KiB/s: several timeouts each. */
  g_assert_cmpuint (slow_get (16 * MiB, 40), ==, 16 * MiB);
  g_assert_cmpuint (slow_put (16, 400), ==, 200);

  g_assert_cmpint (test_daemon_stop (&daemon_), ==, 0);
  daemon_ = saved;
}

/* Signs @csr with the test CA for the given validity (openssl ca takes
 * dates in the past, which openssl x509 -req does not). */
static void
sign_with_dates (const char *dir, const char *csr, const char *ext,
                 const char *cert, const char *start, const char *end)
{
  g_autofree char *conf = g_build_filename (dir, "ca.cnf", NULL);
  g_autofree char *index = g_build_filename (dir, "index.txt", NULL);
  g_autofree char *serial = g_build_filename (dir, "serial", NULL);
  g_autofree char *conf_text = g_strdup_printf (
      "[ca]\ndefault_ca = signer\n[signer]\ndatabase = %s\n"
      "new_certs_dir = %s\nserial = %s\ndefault_md = sha256\n"
      "policy = any\n[any]\ncommonName = supplied\n",
      index, dir, serial);
  g_autofree char *ca_key = g_build_filename (tmpdir, "ca.key", NULL);
  const char *const argv[]
      = { "openssl",  "ca",    "-batch",     "-notext", "-config",  conf,
          "-cert",    ca_file, "-keyfile",   ca_key,    "-in",      csr,
          "-out",     cert,    "-startdate", start,     "-enddate", end,
          "-extfile", ext,     NULL };

  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_assert_true (g_file_set_contents (index, "", -1, NULL));
  g_assert_true (g_file_set_contents (serial, "01\n", -1, NULL));
  test_run_ok (argv);
}

/* Makes in @dir a key and a certificate that the test CA signs for
 * @names (a subjectAltName list), valid from @start to @end. */
static void
make_certificate (const char *dir, const char *names, const char *start,
                  const char *end, char **cert, char **key)
{
  g_autofree char *csr = g_build_filename (dir, "req.csr", NULL);
  g_autofree char *ext = g_build_filename (dir, "ext.cnf", NULL);
  g_autofree char *ext_text = g_strdup_printf ("subjectAltName=%s\n", names);

  *cert = g_build_filename (dir, "server.pem", NULL);
  *key = g_build_filename (dir, "server.key", NULL);
  {
    const char *const argv[]
        = { "openssl", "req",      "-newkey",
            "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes",  "-subj",    "/CN=server",
            "-keyout", *key,       "-out",
            csr,       NULL };
    test_run_ok (argv);
  }
  g_assert_true (g_file_set_contents (ext, ext_text, -1, NULL));
  sign_with_dates (dir, csr, ext, *cert, start, end);
}

/* A daemon whose certificate the CA signed but which is @what: the
 * imgxfer client refuses it, saying why, and writes nothing. */
static void
assert_client_refuses (const char *name, const char *names, const char *start,
                       const char *end, const char *what)
{
  g_autofree char *dir = g_build_filename (tmpdir, name, NULL);
  g_autofree char *image = g_strconcat (name, ".raw", NULL);
  g_autofree char *path = make_image (image);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *url = NULL;
  g_autofree char *err = NULL;
  TestDaemon saved = daemon_;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  make_certificate (dir, names, start, end, &cert, &key);
  test_daemon_start (&daemon_, dir, ca_file, cert, key, "");
  add_ticket ("t", path, "write");
  url = g_strconcat (daemon_.url, "/images/t", NULL);

  {
    const char *const download[]
        = { "convert", "--cafile", ca_file, url, copy, NULL };

    g_assert_cmpint (test_run_cli (download, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "is not trusted"));
    g_assert_nonnull (strstr (err, what));
    g_assert_cmpuint (strlen (err), ==, strcspn (err, "\n") + 1);
    g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
  }
  {
    const char *const upload[]
        = { "convert", "-n", "--cafile", ca_file, path, url, NULL };

    g_clear_pointer (&err, g_free);
    g_assert_cmpint (test_run_cli (upload, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, what));
  }
  {
    /* libsoup's client refuses it as well. */
    g_autoptr (SoupMessage) msg = soup_message_new ("OPTIONS", url);
    g_autoptr (GBytes) reply
        = soup_session_send_and_read (daemon_.https, msg, NULL, &error);

    g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  }
  {
    g_autoptr (JsonNode) info = ticket_info ("t");
    g_assert_cmpint (
        json_object_get_int_member (json_node_get_object (info), "transferred"),
        ==, 0);
  }
  g_assert_cmpint (test_daemon_stop (&daemon_), ==, 0);
  daemon_ = saved;
}

static void
test_expired_certificate (void)
{
  assert_client_refuses ("expired", "IP:127.0.0.1,DNS:localhost",
                         "20200101000000Z", "20200102000000Z", "expired");
}

static void
test_wrong_certificate (void)
{
  assert_client_refuses ("wrong-host", "DNS:other.example", "20200101000000Z",
                         "20991231000000Z", "issued for another host");
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = test_tmpdir_new ();
  ca_file = g_build_filename (tmpdir, "ca.pem", NULL);
  cert_file = g_build_filename (tmpdir, "cert.pem", NULL);
  key_file = g_build_filename (tmpdir, "key.pem", NULL);
  test_make_certificates (tmpdir, ca_file, cert_file, key_file);
  test_daemon_start (&daemon_, tmpdir, ca_file, cert_file, key_file,
                     "inactivity_timeout = 30\n");

  g_test_add_func ("/security/range/outside-ticket", test_outside_range);
  g_test_add_func ("/security/ticket/deleted", test_deleted_ticket);
  g_test_add_func ("/security/ticket/read-only", test_read_only_ticket);
  g_test_add_func ("/security/ticket/ids", test_ticket_ids);
  g_test_add_func ("/security/control/not-served", test_control_not_served);
  g_test_add_func ("/security/limits/headers", test_oversized_headers);
  g_test_add_func ("/security/limits/body", test_oversized_body);
  g_test_add_func ("/security/connections/slow-loris", test_slow_loris);
  g_test_add_func ("/security/connections/stalled", test_stalled_clients);
  g_test_add_func ("/security/tls/expired-certificate",
                   test_expired_certificate);
  g_test_add_func ("/security/tls/wrong-certificate", test_wrong_certificate);
  status = g_test_run ();

  g_assert_cmpint (test_daemon_stop (&daemon_), ==, 0);
  test_tmpdir_free (tmpdir);
  return status;
}
