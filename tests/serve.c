/* serve.c: `imgxfer serve` against clients that are not imgxfer
 *
 * A real daemon is spawned over TLS with a throwaway CA and certificate
 * made by openssl; the client is libsoup's, trusting only that CA. Every
 * resource and status of the imageio protocol is asked for, and what the
 * images hold afterwards is read back from the files themselves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test-daemon.h"
#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define IMAGE_SIZE (8 * MiB)

typedef TestDaemon Daemon;

typedef struct
{
  guint status;
  GBytes *body;
  char *text; /* the body as a string */
  SoupMessageHeaders *headers;
} Reply;

static char *tmpdir;
static char *ca_file;
static char *cert_file;
static char *key_file;
static Daemon daemon_;

static void
reply_free (Reply *reply)
{
  g_bytes_unref (reply->body);
  g_free (reply->text);
  soup_message_headers_unref (reply->headers);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

static const char *
reply_text (Reply *reply)
{
  if (reply->text == NULL)
    reply->text = g_strndup (g_bytes_get_data (reply->body, NULL),
                             g_bytes_get_size (reply->body));
  return reply->text;
}

static Reply *
http (SoupSession *session, const char *method, const char *url,
      const char *body, const char *header, const char *value)
{
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;
  Reply *reply = g_new0 (Reply, 1);

  g_assert_nonnull (msg);
  if (body)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  if (header)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  header, value);
  reply->body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  reply->status = soup_message_get_status (msg);
  reply->headers
      = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return reply;
}

static char *
image_url (const char *id, const char *suffix)
{
  return g_strdup_printf ("%s/images/%s%s", daemon_.url, id,
                          suffix ? suffix : "");
}

static Reply *
image_request (const char *method, const char *id, const char *suffix,
               const char *body, const char *header, const char *value)
{
  g_autofree char *url = image_url (id, suffix);

  return http (daemon_.https, method, url, body, header, value);
}

static Reply *
control (const char *method, const char *id, const char *body)
{
  g_autofree char *url = g_strdup_printf ("http://localhost/tickets/%s", id);

  return http (daemon_.control_session, method, url, body, NULL, NULL);
}

static void
add_ticket (const char *id, const char *url, guint64 size, const char *ops,
            const char *extra)
{
  g_autofree char *body = g_strdup_printf (
      "{\"uuid\": \"%s\", \"url\": \"%s\", \"size\": %" G_GUINT64_FORMAT
      ", \"ops\": %s, \"timeout\": 300%s}",
      id, url, size, ops, extra ? extra : "");
  g_autoptr (Reply) reply = control ("PUT", id, body);

  g_assert_cmpuint (reply->status, ==, 200);
}

static void
remove_ticket (const char *id)
{
  g_autoptr (Reply) reply = control ("DELETE", id, NULL);

  g_assert_cmpuint (reply->status, ==, 204);
}

/* A daemon outlives no failed test. SIGTERM, not SIGKILL: the daemon
 * then stops its qemu-nbd children and removes their folders. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts a daemon in @dir and waits for its "listening on" line. */
static void
daemon_start (Daemon *d, const char *dir)
{
  test_daemon_start (d, dir, ca_file, cert_file, key_file,
                     "inactivity_timeout = 30\n"
                     "[control]\nremove_timeout = 10\n");
}

/* SIGTERM; the daemon must exit 0 within 20 s. */
static int
daemon_stop (Daemon *d)
{
  return test_daemon_stop (d);
}

/* A raw image of IMAGE_SIZE with byte i = i % 251 in its first half and
 * a hole in the second. */
static char *
make_image (const char *name)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autofree guint8 *data = g_malloc (IMAGE_SIZE / 2);

  for (gsize i = 0; i < IMAGE_SIZE / 2; i++)
    data[i] = i % 251;
  g_assert_true (
      g_file_set_contents (path, (char *)data, IMAGE_SIZE / 2, NULL));
  g_assert_cmpint (truncate (path, IMAGE_SIZE), ==, 0);
  return path;
}

static GBytes *
file_bytes (const char *path, guint64 offset, gsize length)
{
  g_autofree char *contents = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint (offset + length, <=, size);
  return g_bytes_new (contents + offset, length);
}

static void
assert_bytes (GBytes *got, GBytes *expected)
{
  g_assert_cmpuint (g_bytes_get_size (got), ==, g_bytes_get_size (expected));
  g_assert_true (g_bytes_equal (got, expected));
}

static void
test_options (void)
{
  g_autofree char *path = make_image ("options.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (Reply) all
      = image_request ("OPTIONS", "*", NULL, NULL, NULL, NULL);
  g_autoptr (Reply) read = NULL;
  g_autoptr (Reply) write = NULL;
  g_autoptr (Reply) unknown = NULL;
  g_autofree char *expected_all = g_strdup_printf (
      "{\"unix_socket\": \"%s\", \"features\": [\"checksum\", \"extents\", "
      "\"flush\", \"zero\"]}\n",
      daemon_.local);
  g_autofree char *expected_write = g_strdup_printf (
      "{\"unix_socket\": \"%s\", \"features\": [\"checksum\", \"extents\", "
      "\"flush\", \"zero\"], \"max_readers\": 8, \"max_writers\": 1}\n",
      daemon_.local);
  g_autofree char *expected_read = g_strdup_printf (
      "{\"unix_socket\": \"%s\", \"features\": [\"checksum\", \"extents\"], "
      "\"max_readers\": 8, \"max_writers\": 1}\n",
      daemon_.local);

  g_assert_cmpuint (all->status, ==, 200);
  g_assert_cmpstr (reply_text (all), ==, expected_all);
  g_assert_cmpstr (soup_message_headers_get_one (all->headers, "Allow"), ==,
                   "OPTIONS,GET,PUT,PATCH");

  add_ticket ("options-read", url, IMAGE_SIZE, "[\"read\"]", NULL);
  add_ticket ("options-write", url, IMAGE_SIZE, "[\"write\"]", NULL);
  read = image_request ("OPTIONS", "options-read", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (read->status, ==, 200);
  g_assert_cmpstr (reply_text (read), ==, expected_read);
  g_assert_cmpstr (soup_message_headers_get_one (read->headers, "Allow"), ==,
                   "OPTIONS,GET");
  write = image_request ("OPTIONS", "options-write", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (write->status, ==, 200);
  g_assert_cmpstr (reply_text (write), ==, expected_write);
  g_assert_cmpstr (
      soup_message_headers_get_one (write->headers, "Content-Type"), ==,
      "application/json");

  unknown = image_request ("OPTIONS", "no-such-ticket", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (unknown->status, ==, 403);
  g_assert_cmpstr (reply_text (unknown), ==,
                   "You are not allowed to access this resource: No such "
                   "ticket no-such-ticket\n");
  g_assert_cmpstr (
      soup_message_headers_get_one (unknown->headers, "Content-Type"), ==,
      "text/plain; charset=UTF-8");
}

/* A request body (or part of one) and the error it must get. */
typedef struct
{
  const char *input;
  const char *message;
} BadInput;

/* A valid ticket "t" with @field ("KEY": VALUE) set over it. */
static char *
ticket_with (const char *field)
{
  g_autoptr (JsonNode) root = test_parse_json (
      "{\"uuid\": \"t\", \"url\": \"file:///x\", \"size\": 1, "
      "\"ops\": [\"read\"], \"timeout\": 1}");
  g_autofree char *text = g_strdup_printf ("{%s}", field);
  g_autoptr (JsonNode) extra = test_parse_json (text);
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  json_object_iter_init (&iter, json_node_get_object (extra));
  while (json_object_iter_next (&iter, &key, &value))
    json_object_set_member (json_node_get_object (root), key,
                            json_node_copy (value));
  return json_to_string (root, FALSE);
}

/* PUT, GET, PATCH and DELETE /tickets/ID, and the 400s naming the field. */
static void
test_tickets (void)
{
  static const BadInput bad[] = {
    { "{\"uuid\": \"t\", \"url\": \"file:///x\", \"ops\": [\"read\"], "
      "\"timeout\": 1}",
      "Invalid ticket: Required ticket parameter is missing: size\n" },
    { "{\"uuid\": \"t\", \"url\": \"file:///x\", \"size\": \"1\", "
      "\"ops\": [\"read\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'size': \"1\": expecting an "
      "integer value\n" },
    { "{\"uuid\": \"t\", \"url\": \"file:///x\", \"size\": 1, "
      "\"ops\": [\"delete\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'ops': [\"delete\"]: expecting a "
      "list of \"read\" and \"write\"\n" },
    { "{\"uuid\": \"t\", \"size\": 1, \"ops\": [\"read\"], \"timeout\": 1}",
      "Invalid ticket: Required ticket parameter is missing: url\n" },
    { "{\"uuid\": \"t\", \"url\": \"tar:///x.ova?member=a\", \"size\": 1, "
      "\"ops\": [\"write\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'url': \"tar:///x.ova?member=a\": "
      "an archive member is read only\n" },
    { "{\"uuid\": \"t\", \"url\": \"TAR:///x.ova?member=a\", \"size\": 1, "
      "\"ops\": [\"write\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'url': \"TAR:///x.ova?member=a\": "
      "an archive member is read only\n" },
    { "{\"uuid\": \"t\", \"url\": \"disk.img\", \"size\": 1, "
      "\"ops\": [\"read\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'url': \"disk.img\": "
      "expecting an absolute URL\n" },
    { "{\"uuid\": \"t\", \"url\": \"nbd:unix\", \"size\": 1, "
      "\"ops\": [\"read\"], \"timeout\": 1}",
      "Invalid ticket: Invalid value for 'url': \"nbd:unix\": "
      "expecting an absolute URL\n" },
    { "[1, 2]", "Invalid ticket: expecting a JSON object\n" },
    { "{\"url\": \"file:///x\", \"size\": 1, \"ops\": [\"read\"], "
      "\"timeout\": 1}",
      "Invalid ticket: Required ticket parameter is missing: name\n" },
    { "{\"uuid\": \"t\", \"url\": \"file:///x\", \"size\": 1, "
      "\"timeout\": 1}",
      "Invalid ticket: Required ticket parameter is missing: ops\n" },
    { "{\"uuid\": \"t\", \"url\": \"file:///x\", \"size\": 1, "
      "\"ops\": [\"read\"]}",
      "Invalid ticket: Required ticket parameter is missing: timeout\n" },
  };
  /* Each key of a ticket with a value of the wrong kind or range, on top
   * of a valid ticket. */
  static const BadInput bad_fields[] = {
    { "\"uuid\": 7", "'uuid': 7: expecting a string value" },
    { "\"size\": -1", "'size': -1: out of range" },
    { "\"size\": 1.5", "'size': 1.5: expecting an integer value" },
    { "\"ops\": \"read\"", "'ops': \"read\": expecting a list value" },
    { "\"ops\": []", "'ops': []: expecting at least one operation" },
    { "\"ops\": [\"read\", 1]",
      "'ops': [\"read\",1]: expecting a list of \"read\" and \"write\"" },
    { "\"timeout\": \"60\"", "'timeout': \"60\": expecting an integer value" },
    { "\"timeout\": -1", "'timeout': -1: out of range" },
    { "\"timeout\": 4294967296", "'timeout': 4294967296: out of range" },
    { "\"inactivity_timeout\": true",
      "'inactivity_timeout': true: expecting an integer value" },
    { "\"inactivity_timeout\": -5", "'inactivity_timeout': -5: out of range" },
    { "\"url\": [\"file:///x\"]",
      "'url': [\"file:///x\"]: expecting a string value" },
    { "\"transfer_id\": 1", "'transfer_id': 1: expecting a string value" },
    { "\"filename\": null", "'filename': null: expecting a string value" },
    { "\"sparse\": \"yes\"", "'sparse': \"yes\": expecting a boolean value" },
    { "\"dirty\": 1", "'dirty': 1: expecting a boolean value" },
    { "\"format\": 2", "'format': 2: expecting a string value" },
    { "\"bitmap\": {}", "'bitmap': {}: expecting a string value" },
  };
  static const BadInput bad_patches[] = {
    { "{\"timeout\": -1}", "Invalid value -1 < 0\n" },
    { "{\"timeout\": 4294967296}", "Invalid value 4294967296 > 4294967295\n" },
    { "{\"timeout\": \"60\"}", "Integer required '60'\n" },
    { "{\"timeout\": 1.5}", "Integer required 1.5\n" },
    { "{}", "Missing required value for 'timeout'\n" },
  };
  g_autoptr (Reply) truncated = control ("PUT", "t", "{\"uuid\": \"t\"");
  g_autoptr (Reply) info = NULL;
  g_autoptr (Reply) patch = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  gint64 expires;

  g_assert_cmpuint (truncated->status, ==, 400);
  g_assert_true (g_str_has_prefix (reply_text (truncated),
                                   "Ticket is not in a json format: "));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (Reply) reply = control ("PUT", "t", bad[i].input);

      g_assert_cmpuint (reply->status, ==, 400);
      g_assert_cmpstr (reply_text (reply), ==, bad[i].message);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad_fields); i++)
    {
      g_autofree char *body = ticket_with (bad_fields[i].input);
      g_autofree char *message = g_strdup_printf (
          "Invalid ticket: Invalid value for %s\n", bad_fields[i].message);
      g_autoptr (Reply) reply = control ("PUT", "t", body);

      g_assert_cmpuint (reply->status, ==, 400);
      g_assert_cmpstr (reply_text (reply), ==, message);
    }
  {
    g_autoptr (Reply) gone = control ("GET", "t", NULL);
    g_assert_cmpuint (gone->status, ==, 404);
  }

  add_ticket ("t", "file:///nowhere.raw", 4096, "[\"read\"]",
              ", \"transfer_id\": \"tx\", \"filename\": \"a.raw\"");
  info = control ("GET", "t", NULL);
  g_assert_cmpuint (info->status, ==, 200);
  root = test_parse_json (reply_text (info));
  object = json_node_get_object (root);
  g_assert_false (json_object_get_boolean_member (object, "active"));
  g_assert_false (json_object_get_boolean_member (object, "canceled"));
  g_assert_cmpint (json_object_get_int_member (object, "connections"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (object, "idle_time"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (object, "transferred"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "transfer_id"), ==,
                   "tx");
  g_assert_cmpstr (json_object_get_string_member (object, "filename"), ==,
                   "a.raw");
  g_assert_cmpint (json_object_get_int_member (object, "inactivity_timeout"),
                   ==, 30);
  expires = json_object_get_int_member (object, "expires");

  patch = control ("PATCH", "t", "{\"timeout\": 3000}");
  g_assert_cmpuint (patch->status, ==, 200);
  {
    g_autoptr (Reply) again = control ("GET", "t", NULL);
    g_autoptr (JsonNode) node = test_parse_json (reply_text (again));
    g_assert_cmpint (
        json_object_get_int_member (json_node_get_object (node), "expires"), >=,
        expires + 2700);
  }
  {
    g_autoptr (Reply) bad_patch = control ("PATCH", "t", "{\"timeout\": -1}");
    g_autoptr (Reply) no_ticket = control ("PATCH", "nope", "{\"timeout\": 1}");
    g_autoptr (Reply) missing = control ("GET", "nope", NULL);
    g_autoptr (Reply) no_id = control ("GET", "", NULL);

    g_assert_cmpuint (bad_patch->status, ==, 400);
    for (guint i = 0; i < G_N_ELEMENTS (bad_patches); i++)
      {
        g_autoptr (Reply) reply = control ("PATCH", "t", bad_patches[i].input);

        g_assert_cmpuint (reply->status, ==, 400);
        g_assert_cmpstr (reply_text (reply), ==, bad_patches[i].message);
      }
    g_assert_cmpuint (no_ticket->status, ==, 404);
    g_assert_cmpuint (missing->status, ==, 404);
    g_assert_cmpstr (reply_text (missing), ==, "No such ticket 'nope'\n");
    g_assert_cmpuint (no_id->status, ==, 400);
  }
  for (int i = 0; i < 2; i++)
    remove_ticket ("t");
  {
    g_autoptr (Reply) gone = control ("GET", "t", NULL);
    g_assert_cmpuint (gone->status, ==, 404);
  }
}

static void
assert_range (const char *id, const char *path, const char *range,
              guint64 offset, gsize length, guint64 size)
{
  g_autoptr (Reply) reply
      = image_request ("GET", id, NULL, NULL, "Range", range);
  g_autoptr (GBytes) expected = file_bytes (path, offset, length);
  g_autofree char *content_range = g_strdup_printf (
      "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
      offset, offset + length - 1, size);

  g_assert_cmpuint (reply->status, ==, 206);
  g_assert_cmpstr (
      soup_message_headers_get_one (reply->headers, "Content-Range"), ==,
      content_range);
  assert_bytes (reply->body, expected);
}

static void
test_get (void)
{
  g_autofree char *path = make_image ("get.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (Reply) whole = NULL;
  g_autoptr (GBytes) expected = file_bytes (path, 0, IMAGE_SIZE);
  static const char *const unsatisfiable[]
      = { "bytes=-10", "bytes=0-1,5-6", "bytes=5-1", "bytes=x-1" };

  add_ticket ("get", url, IMAGE_SIZE, "[\"read\"]",
              ", \"filename\": \"get.raw\"");
  whole = image_request ("GET", "get", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (whole->status, ==, 200);
  assert_bytes (whole->body, expected);
  g_assert_cmpstr (
      soup_message_headers_get_one (whole->headers, "Content-Disposition"), ==,
      "attachment; filename=get.raw");

  assert_range ("get", path, "bytes=0-0", 0, 1, IMAGE_SIZE);
  assert_range ("get", path, "bytes=8388607-8388607", IMAGE_SIZE - 1, 1,
                IMAGE_SIZE);
  assert_range ("get", path, "bytes=1000-", 1000, IMAGE_SIZE - 1000,
                IMAGE_SIZE);
  assert_range ("get", path, "bytes=4194000-4194999", 4194000, 1000,
                IMAGE_SIZE);
  {
    g_autoptr (Reply) past = image_request ("GET", "get", NULL, NULL, "Range",
                                            "bytes=8388607-8388608");
    g_assert_cmpuint (past->status, ==, 416);
    g_assert_cmpstr (
        soup_message_headers_get_one (past->headers, "Content-Range"), ==,
        "bytes */8388608");
  }
  for (guint i = 0; i < G_N_ELEMENTS (unsatisfiable); i++)
    {
      g_autoptr (Reply) reply
          = image_request ("GET", "get", NULL, NULL, "Range", unsatisfiable[i]);
      g_assert_cmpuint (reply->status, ==, 416);
    }
  {
    /* The ticket bounds what is served, not the file. */
    g_autoptr (Reply) small = NULL;
    add_ticket ("get-small", url, 4096, "[\"read\"]", NULL);
    small = image_request ("GET", "get-small", NULL, NULL, "Range",
                           "bytes=4096-4096");
    g_assert_cmpuint (small->status, ==, 416);
    g_assert_cmpstr (
        soup_message_headers_get_one (small->headers, "Content-Range"), ==,
        "bytes */4096");
  }
  {
    g_autoptr (Reply) info = control ("GET", "get", NULL);
    g_autoptr (JsonNode) root = test_parse_json (reply_text (info));
    /* The whole image and ranges inside it: counted once. */
    g_assert_cmpint (
        json_object_get_int_member (json_node_get_object (root), "transferred"),
        ==, IMAGE_SIZE);
  }
}

/* PUT with Content-Range and ?flush=n, PATCH zero and flush. */
static void
test_put_patch (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "put.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *data = g_strnfill (3 * MiB + 123, 'x');
  g_autoptr (GBytes) got = NULL;
  g_autoptr (Reply) put = NULL;
  g_autoptr (Reply) zero = NULL;
  g_autoptr (Reply) flush = NULL;

  test_create_sparse (path, IMAGE_SIZE);
  add_ticket ("put", url, IMAGE_SIZE, "[\"write\"]", NULL);
  {
    g_autofree char *image = image_url ("put", "?flush=n");
    g_autoptr (SoupMessage) msg = soup_message_new ("PUT", image);
    g_autoptr (GBytes) body = g_bytes_new_static (data, strlen (data));
    g_autoptr (GBytes) reply = NULL;
    g_autoptr (GError) error = NULL;

    soup_message_set_request_body_from_bytes (msg, NULL, body);
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "Content-Range", "bytes 1000-3146850/*");
    reply = soup_session_send_and_read (daemon_.https, msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  }
  zero = image_request ("PATCH", "put", NULL,
                        "{\"op\": \"zero\", \"offset\": 2000, \"size\": 10, "
                        "\"flush\": true}",
                        NULL, NULL);
  g_assert_cmpuint (zero->status, ==, 200);
  flush
      = image_request ("PATCH", "put", NULL, "{\"op\": \"flush\"}", NULL, NULL);
  g_assert_cmpuint (flush->status, ==, 200);

  got = file_bytes (path, 0, IMAGE_SIZE);
  {
    const char *bytes = g_bytes_get_data (got, NULL);
    gsize length = strlen (data);

    for (gsize i = 0; i < IMAGE_SIZE; i++)
      {
        char want = (i >= 1000 && i < 1000 + length && !(i >= 2000 && i < 2010))
                        ? 'x'
                        : 0;
        if (bytes[i] != want)
          g_error ("byte %zu is %d, not %d", i, bytes[i], want);
      }
  }

  {
    static const struct
    {
      const char *body;
      guint status;
      const char *message;
    } bad[] = {
      { "{\"op\": \"zero\", \"size\": 1", 400, NULL },
      { "{\"op\": \"trim\"}", 400,
        "Unsupported value 'trim' for 'op', expecting one of ['flush', "
        "'zero']\n" },
      { "{\"size\": 1}", 400, "Missing required value for op\n" },
      { "{\"op\": \"zero\"}", 400, "Missing required value for 'size'\n" },
      { "{\"op\": \"zero\", \"size\": \"1\"}", 400, "Integer required '1'\n" },
      { "{\"op\": \"zero\", \"size\": 2, \"offset\": 8388607}", 416,
        "Requested range out of allowed range\n" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (Reply) reply
            = image_request ("PATCH", "put", NULL, bad[i].body, NULL, NULL);
        g_assert_cmpuint (reply->status, ==, bad[i].status);
        if (bad[i].message)
          g_assert_cmpstr (reply_text (reply), ==, bad[i].message);
      }
  }
}

/* A write ticket's image opens as a copy's destination does: one smaller
 * than the ticket is refused before a byte is written. */
static void
test_put_small_image (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "small.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *message = g_strdup_printf (
      "%s: the destination (4096 bytes) is smaller than the image (8192 "
      "bytes)\n",
      url);
  g_autoptr (Reply) put = NULL;
  GStatBuf st;

  test_create_sparse (path, 4096);
  add_ticket ("small", url, 8192, "[\"write\"]", NULL);
  put = image_request ("PUT", "small", NULL, "data", NULL, NULL);
  g_assert_cmpuint (put->status, ==, 500);
  g_assert_cmpstr (reply_text (put), ==, message);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_blocks, ==, 0);
  remove_ticket ("small");
}

/* A PUT whose image fails its writes is answered 500 with the error
 * once its body is read, and the next request is served. The body is
 * several writes long: the first fails while most of it is still to
 * come, and the rest is read and dropped. */
static void
test_put_write_error (void)
{
  g_autofree char *socket_path = g_build_filename (tmpdir, "eio.sock", NULL);
  const char *const nbdkit[] = { "nbdkit",
                                 "-f",
                                 "-U",
                                 socket_path,
                                 "--filter=error",
                                 "memory",
                                 "16M",
                                 "error-pwrite=EIO",
                                 "error-pwrite-rate=100%",
                                 NULL };
  g_autoptr (TestServer) server = test_server_start (nbdkit, socket_path);
  g_autofree char *body = g_strnfill (12 * 1024 * 1024, 'x');
  g_autoptr (Reply) put = NULL;
  g_autoptr (Reply) again = NULL;

  add_ticket ("eio", test_server_get_uri (server), 16 * 1024 * 1024,
              "[\"write\"]", NULL);
  put = image_request ("PUT", "eio", "?flush=n", body, NULL, NULL);
  g_assert_cmpuint (put->status, ==, 500);
  g_assert_nonnull (strstr (reply_text (put), "Input/output error"));
  again = image_request ("PUT", "eio", NULL, "data", NULL, NULL);
  g_assert_cmpuint (again->status, ==, 500);
  remove_ticket ("eio");
}

/* Refusals of a PUT come before its body. */
static void
test_put_refused (void)
{
  g_autofree char *path = make_image ("refused.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (Reply) read_only = NULL;
  g_autoptr (Reply) too_far = NULL;
  g_autoptr (Reply) bad_range = NULL;
  g_autoptr (Reply) bad_flush = NULL;

  add_ticket ("refused", url, IMAGE_SIZE, "[\"read\"]", NULL);
  add_ticket ("refused-w", url, IMAGE_SIZE, "[\"write\"]", NULL);
  read_only = image_request ("PUT", "refused", NULL, "data", NULL, NULL);
  g_assert_cmpuint (read_only->status, ==, 403);
  g_assert_cmpstr (reply_text (read_only), ==,
                   "You are not allowed to access this resource: "
                   "Transfer=(ticket/refused) forbids write\n");
  too_far = image_request ("PUT", "refused-w", NULL, "data", "Content-Range",
                           "bytes 8388605-8388608/*");
  g_assert_cmpuint (too_far->status, ==, 416);
  g_assert_cmpstr (
      soup_message_headers_get_one (too_far->headers, "Content-Range"), ==,
      "bytes */8388608");
  bad_range = image_request ("PUT", "refused-w", NULL, "data", "Content-Range",
                             "bytes 9-5/*");
  g_assert_cmpuint (bad_range->status, ==, 400);
  bad_flush
      = image_request ("PUT", "refused-w", "?flush=maybe", "data", NULL, NULL);
  g_assert_cmpuint (bad_flush->status, ==, 400);
  g_assert_cmpstr (reply_text (bad_flush), ==,
                   "Unsupported value 'maybe' for 'flush', expecting one of "
                   "['n', 'y']\n");
  {
    /* No byte of a refused PUT reached the image. */
    g_autoptr (GBytes) got = file_bytes (path, IMAGE_SIZE - 4, 4);
    g_autofree char *zeroes = g_malloc0 (4);
    g_assert_cmpmem (g_bytes_get_data (got, NULL), 4, zeroes, 4);
  }
}

/* curl sends a body of unknown length chunked: 400, as imageio. */
static void
test_put_chunked (void)
{
  g_autofree char *path = make_image ("chunked.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *image = image_url ("chunked", NULL);
  const char *argv[] = { "curl",
                         "-sS",
                         "--cacert",
                         ca_file,
                         "-X",
                         "PUT",
                         "-H",
                         "Transfer-Encoding: chunked",
                         "--data-binary",
                         "@/dev/null",
                         "-w",
                         "%{http_code}",
                         image,
                         NULL };
  g_autofree char *out = NULL;

  add_ticket ("chunked", url, IMAGE_SIZE, "[\"write\"]", NULL);
  g_assert_cmpint (test_run (argv, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Content-Length header is required\n400");
}

static void
test_extents_checksum (void)
{
  g_autofree char *path = make_image ("sum.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (Reply) extents = NULL;
  g_autoptr (Reply) checksum = NULL;
  g_autoptr (Reply) algorithms = NULL;
  g_autoptr (Reply) dirty = NULL;
  g_autoptr (JsonNode) root = NULL;
  const char *const cli[]
      = { "checksum", "--output=json", "-a", "sha256", "-b", "1m", path, NULL };
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) expected = NULL;

  add_ticket ("sum", url, IMAGE_SIZE, "[\"read\"]", NULL);
  extents = image_request ("GET", "sum", "/extents", NULL, NULL, NULL);
  g_assert_cmpuint (extents->status, ==, 200);
  g_assert_cmpstr (reply_text (extents), ==,
                   "[{\"start\": 0, \"length\": 4194304, \"zero\": false, "
                   "\"hole\": false}, {\"start\": 4194304, \"length\": "
                   "4194304, \"zero\": true, \"hole\": false}]\n");
  dirty = image_request ("GET", "sum", "/extents?context=dirty", NULL, NULL,
                         NULL);
  g_assert_cmpuint (dirty->status, ==, 404);
  g_assert_cmpstr (reply_text (dirty), ==,
                   "Ticket does not support dirty extents\n");

  checksum = image_request ("GET", "sum",
                            "/checksum?algorithm=sha256&block_size=1048576",
                            NULL, NULL, NULL);
  g_assert_cmpuint (checksum->status, ==, 200);
  g_assert_cmpint (test_run_cli (cli, &out, NULL), ==, 0);
  expected = test_parse_json (out);
  root = test_parse_json (reply_text (checksum));
  g_assert_true (json_node_equal (root, expected));

  algorithms
      = image_request ("GET", "sum", "/checksum/algorithms", NULL, NULL, NULL);
  g_assert_cmpuint (algorithms->status, ==, 200);
  g_assert_true (g_str_has_prefix (reply_text (algorithms),
                                   "{\"algorithms\": [\"blake2b\", "));
  {
    g_autoptr (Reply) small = image_request (
        "GET", "sum", "/checksum?block_size=4096", NULL, NULL, NULL);
    g_autoptr (Reply) odd = image_request (
        "GET", "sum", "/checksum?block_size=1048577", NULL, NULL, NULL);
    g_autoptr (Reply) bad = image_request (
        "GET", "sum", "/checksum?algorithm=crc32", NULL, NULL, NULL);
    g_assert_cmpuint (small->status, ==, 400);
    g_assert_cmpstr (reply_text (small), ==,
                     "Block size out of allowed range: 1048576-16777216\n");
    g_assert_cmpuint (odd->status, ==, 400);
    g_assert_cmpuint (bad->status, ==, 400);
  }
}

/* Routes: the control API is on the control socket only. */
static void
test_routes (void)
{
  g_autofree char *tickets = g_strdup_printf ("%s/tickets/t", daemon_.url);
  g_autoptr (Reply) remote
      = http (daemon_.https, "GET", tickets, NULL, NULL, NULL);
  g_autoptr (Reply) info = NULL;
  g_autoptr (Reply) method
      = image_request ("DELETE", "x", NULL, NULL, NULL, NULL);
  g_autoptr (SoupSession) local = NULL;
  g_autoptr (GSocketAddress) address
      = g_unix_socket_address_new (daemon_.local);

  g_assert_cmpuint (remote->status, ==, 404);
  g_assert_cmpstr (reply_text (remote), ==, "No handler for '/tickets/t'\n");
  g_assert_cmpuint (method->status, ==, 405);
  g_assert_cmpstr (reply_text (method), ==,
                   "Method 'DELETE' not defined for '/images/x'\n");
  {
    g_autofree char *url = g_strdup_printf ("%s/info/", daemon_.url);
    info = http (daemon_.https, "GET", url, NULL, NULL, NULL);
    g_assert_cmpuint (info->status, ==, 200);
    g_assert_cmpstr (reply_text (info), ==,
                     "{\"version\": \"" PACKAGE_VERSION "\"}\n");
  }

  local = soup_session_new_with_options ("remote-connectable", address, NULL);
  {
    g_autoptr (Reply) on_local
        = http (local, "GET", "http://localhost/tickets/t", NULL, NULL, NULL);
    g_autoptr (Reply) options = http (
        local, "OPTIONS", "http://localhost/images/*", NULL, NULL, NULL);
    g_assert_cmpuint (on_local->status, ==, 404);
    g_assert_cmpuint (options->status, ==, 200);
  }
}

static void
test_expired (void)
{
  g_autofree char *path = make_image ("expired.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *body = g_strdup_printf (
      "{\"uuid\": \"expired\", \"url\": \"%s\", \"size\": 4096, "
      "\"ops\": [\"read\"], \"timeout\": 1}",
      url);
  g_autoptr (Reply) added = control ("PUT", "expired", body);
  g_autoptr (Reply) reply = NULL;

  g_assert_cmpuint (added->status, ==, 200);
  g_usleep (2100 * 1000);
  reply = image_request ("GET", "expired", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (reply->status, ==, 403);
  g_assert_cmpstr (reply_text (reply), ==,
                   "You are not allowed to access this resource: "
                   "Transfer=(ticket/expired) expired\n");
}

/* A GET of the whole image of @id, of which the first 64 KiB are read:
 * the rest waits for the caller, the request stays in flight. */
static GInputStream *
start_get (const char *id, SoupMessage **msg)
{
  g_autofree char *image = image_url (id, NULL);
  g_autofree char *buffer = g_malloc (65536);
  g_autoptr (GError) error = NULL;
  GInputStream *stream;
  gsize got = 0;

  *msg = soup_message_new ("GET", image);
  stream = soup_session_send (daemon_.https, *msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (*msg), ==, 200);
  g_assert_true (
      g_input_stream_read_all (stream, buffer, 65536, &got, NULL, &error));
  g_assert_cmpuint (got, ==, 65536);
  return stream;
}

/* How many bytes @stream has left until it ends or fails. */
static gsize
read_to_end (GInputStream *stream)
{
  g_autofree char *buffer = g_malloc (MiB);
  gsize total = 0;
  gssize n;

  while ((n = g_input_stream_read (stream, buffer, MiB, NULL, NULL)) > 0)
    total += n;
  return total;
}

/* A GET that stalls (its client reads nothing) ends when its ticket is
 * deleted, and the deletion returns only then. */
static void
test_delete_during_get (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "long.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (Reply) after = NULL;

  test_write_pattern (path, 0, 64 * MiB, 0x5a);
  add_ticket ("long", url, 64 * MiB, "[\"read\"]", NULL);
  stream = start_get ("long", &msg);
  {
    g_autoptr (Reply) info = control ("GET", "long", NULL);
    g_autoptr (JsonNode) root = test_parse_json (reply_text (info));
    g_assert_true (
        json_object_get_boolean_member (json_node_get_object (root), "active"));
  }

  remove_ticket ("long");
  g_assert_cmpuint (65536 + read_to_end (stream), <, 64 * MiB);
  after = image_request ("GET", "long", NULL, NULL, NULL, NULL);
  g_assert_cmpuint (after->status, ==, 403);
}

/* Whether the ticket @id has a request in flight. */
static gboolean
ticket_active (const char *id)
{
  g_autoptr (Reply) info = control ("GET", id, NULL);
  g_autoptr (JsonNode) root = test_parse_json (reply_text (info));

  return json_object_get_boolean_member (json_node_get_object (root), "active");
}

/* A GET whose image fails to read in the middle of its body: its client
 * gets the body cut short, and the request ends, its ticket no longer
 * active, rather than wait on a connection nothing will write to. */
static void
test_get_read_error (void)
{
  g_autofree char *socket_path
      = g_build_filename (tmpdir, "read-eio.sock", NULL);
  g_autofree char *trigger = g_build_filename (tmpdir, "read-eio.now", NULL);
  g_autofree char *trigger_arg = g_strconcat ("error-file=", trigger, NULL);
  const char *const nbdkit[]
      = { "nbdkit",         "-f",      "-r",  "-U",        socket_path,
          "--filter=error", "pattern", "64M", "error=EIO", "error-rate=100%",
          trigger_arg,      NULL };
  g_autoptr (TestServer) server = test_server_start (nbdkit, socket_path);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  gint64 deadline;

  add_ticket ("read-eio", test_server_get_uri (server), 64 * MiB, "[\"read\"]",
              NULL);
  stream = start_get ("read-eio", &msg);
  g_assert_true (g_file_set_contents (trigger, "", 0, NULL));
  g_assert_cmpuint (65536 + read_to_end (stream), <, 64 * MiB);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (ticket_active ("read-eio") && g_get_monotonic_time () < deadline)
    g_usleep (G_USEC_PER_SEC / 10);
  g_assert_false (ticket_active ("read-eio"));
  remove_ticket ("read-eio");
  g_unlink (trigger);
}

/* A ticket PUT again under its id replaces the old one, as imageio's
 * Authorizer.add() does: the old ticket is not cancelled, so a GET it
 * serves goes on to its last byte, while later requests get the new
 * ticket and its state; and the old ticket's idle backend lets go of the
 * image's write lock, so that the new ticket can write. */
static void
test_ticket_replace (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "replace.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;

  test_write_pattern (path, 0, 16 * MiB, 0x5a);
  add_ticket ("replace", url, 16 * MiB, "[\"read\"]", NULL);
  stream = start_get ("replace", &msg);

  add_ticket ("replace", url, 16 * MiB, "[\"read\"]",
              ", \"filename\": \"new.raw\"");
  {
    g_autoptr (Reply) info = control ("GET", "replace", NULL);
    g_autoptr (JsonNode) root = test_parse_json (reply_text (info));
    JsonObject *object = json_node_get_object (root);

    g_assert_cmpstr (json_object_get_string_member (object, "filename"), ==,
                     "new.raw");
    g_assert_false (json_object_get_boolean_member (object, "canceled"));
    g_assert_false (json_object_get_boolean_member (object, "active"));
    g_assert_cmpint (json_object_get_int_member (object, "transferred"), ==, 0);
  }
  g_assert_cmpuint (65536 + read_to_end (stream), ==, 16 * MiB);
  remove_ticket ("replace");

  add_ticket ("replace-w", url, 16 * MiB, "[\"write\"]", NULL);
  {
    g_autoptr (Reply) first
        = image_request ("PUT", "replace-w", NULL, "abcd", NULL, NULL);
    g_autoptr (Reply) second = NULL;
    g_autoptr (GBytes) got = NULL;

    g_assert_cmpuint (first->status, ==, 200);
    add_ticket ("replace-w", url, 16 * MiB, "[\"write\"]", NULL);
    second = image_request ("PUT", "replace-w", NULL, "efgh", "Content-Range",
                            "bytes 4-7/*");
    g_assert_cmpuint (second->status, ==, 200);
    got = file_bytes (path, 0, 8);
    g_assert_cmpmem (g_bytes_get_data (got, NULL), 8, "abcdefgh", 8);
  }
  remove_ticket ("replace-w");
}

typedef struct
{
  const char *path;
  const char *id; /* the ticket */
  guint index;
  gboolean ok;
  gint done;
} Worker;

/* A session of a client thread, with @context its thread default until
 * the thread pops it. */
static SoupSession *
thread_session (GMainContext *context)
{
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, NULL);

  g_main_context_push_thread_default (context);
  return soup_session_new_with_options ("tls-database", database, NULL);
}

/* One client connection streaming its own MiB. */
static gpointer
concurrent_worker (gpointer data)
{
  Worker *worker = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (SoupSession) session = thread_session (context);
  g_autofree char *range = g_strdup_printf ("bytes=%u-%u", worker->index * MiB,
                                            (worker->index + 1) * MiB - 1);
  g_autoptr (Reply) reply = NULL;
  g_autoptr (GBytes) expected
      = file_bytes (worker->path, worker->index * MiB, MiB);

  {
    g_autofree char *url = image_url (worker->id, NULL);
    reply = http (session, "GET", url, NULL, "Range", range);
  }
  worker->ok = reply->status == 206 && g_bytes_equal (reply->body, expected);
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);
  g_atomic_int_set (&worker->done, TRUE);
  return NULL;
}

static void
test_concurrent (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "many.raw", NULL);
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  Worker workers[40];
  GThread *threads[40];

  {
    g_autofree guint8 *data = g_malloc (40 * MiB);
    for (gsize i = 0; i < 40 * MiB; i++)
      data[i] = (i * 7 + i / MiB) % 253;
    g_assert_true (g_file_set_contents (path, (char *)data, 40 * MiB, NULL));
  }
  add_ticket ("many", url, 40 * MiB, "[\"read\"]", NULL);
  for (guint i = 0; i < 40; i++)
    {
      workers[i] = (Worker){ path, "many", i };
      threads[i] = g_thread_new ("client", concurrent_worker, &workers[i]);
    }
  for (guint i = 0; i < 40; i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (workers[i].ok);
    }
}

/* The sanitizers' shadow memory and quarantine make RSS say nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define PUT_CLIENTS 24
#define PUT_SIZE (4 * MiB)
#define PUT_BLOCK 4096

/* What each block of PUT_BLOCK bytes of the image is filled with. */
static guint8
put_byte (gsize offset)
{
  return offset / PUT_BLOCK % 251 + 1;
}

/* One client connection writing its own PUT_SIZE range. */
static gpointer
put_worker (gpointer data)
{
  Worker *worker = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (SoupSession) session = thread_session (context);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autofree char *url = image_url (worker->id, NULL);
  g_autofree char *range
      = g_strdup_printf ("bytes %u-%u/*", worker->index * PUT_SIZE,
                         (worker->index + 1) * PUT_SIZE - 1);
  guint8 *bytes = g_malloc (PUT_SIZE);

  for (gsize i = 0; i < PUT_SIZE; i += PUT_BLOCK)
    memset (bytes + i, put_byte (worker->index * PUT_SIZE + i), PUT_BLOCK);
  body = g_bytes_new_take (bytes, PUT_SIZE);
  msg = soup_message_new ("PUT", url);
  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Content-Range", range);
  soup_message_set_request_body_from_bytes (msg, NULL, body);
  reply = soup_session_send_and_read (session, msg, NULL, NULL);
  worker->ok = soup_message_get_status (msg) == 200;
  g_clear_object (&msg);
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static guint64
daemon_status_kib (const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", daemon_.pid);
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, field);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field) + 1, NULL, 10);
}

/* Waits up to 20 s for @count client connections to have used ticket
 * @id: their requests were all started. */
static void
wait_ticket_connections (const char *id, gint64 count)
{
  gint64 connections = -1;

  for (int i = 0; i < 200 && connections != count; i++)
    {
      g_autoptr (Reply) reply = control ("GET", id, NULL);
      g_autoptr (JsonNode) root = test_parse_json (reply_text (reply));

      connections = json_object_get_int_member (json_node_get_object (root),
                                                "connections");
      if (connections != count)
        g_usleep (G_USEC_PER_SEC / 10);
    }
  g_assert_cmpint (connections, ==, count);
}

/* Waits until the daemon's RSS has not changed for a second (at most
 * 20 s): the clients sent what it takes from them while the image does
 * not answer. */
static void
wait_daemon_rss_settled (void)
{
  guint64 last = 0;
  int still = 0;

  for (int i = 0; i < 200 && still < 10; i++)
    {
      guint64 rss = daemon_status_kib ("VmRSS:");

      still = rss == last ? still + 1 : 0;
      last = rss;
      g_usleep (G_USEC_PER_SEC / 10);
    }
}

/* Many PUTs at once into an image that does not answer for a while:
 * those that found no memory wait with their clients paused, and the
 * daemon's memory stays within its budget for bodies (32 MiB) and what
 * it holds anyway, where each PUT used to hold 3 MiB or more. A GET of
 * another image meanwhile waits for memory too, and is served once the
 * PUTs give theirs back. A daemon of its own: buffers that other tests
 * left it could let the GET through. */
static void
test_put_memory (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "budget", NULL);
  g_autofree char *path = g_build_filename (dir, "puts.raw", NULL);
  g_autofree char *socket_path = g_build_filename (dir, "puts.sock", NULL);
  g_autofree char *control_path = g_build_filename (dir, "puts.ctl", NULL);
  g_autofree char *file_arg = g_strconcat ("file=", path, NULL);
  g_autofree char *control_arg
      = g_strconcat ("pause-control=", control_path, NULL);
  const char *const nbdkit[]
      = { "nbdkit", "-f",     "-U",        socket_path, "--filter=pause",
          "file",   file_arg, control_arg, NULL };
  g_autoptr (TestServer) server = NULL;
  g_autofree char *get_path = make_image ("budget-get.raw");
  g_autofree char *get_url = g_strconcat ("file://", get_path, NULL);
  Worker workers[PUT_CLIENTS], get = { get_path, "budget-get", 0 };
  GThread *threads[PUT_CLIENTS], *get_thread;
  gboolean get_waited;
  g_autofree char *contents = NULL;
  gsize size;
  guint64 peak;
  Daemon shared = daemon_;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  daemon_start (&daemon_, dir);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_cmpint (truncate (path, PUT_CLIENTS * PUT_SIZE), ==, 0);
  server = test_server_start (nbdkit, socket_path);
  add_ticket ("puts", test_server_get_uri (server), PUT_CLIENTS * PUT_SIZE,
              "[\"write\"]", NULL);
  add_ticket ("budget-get", get_url, IMAGE_SIZE, "[\"read\"]", NULL);
  test_pause_control (control_path, 'p');
  for (guint i = 0; i < PUT_CLIENTS; i++)
    {
      workers[i] = (Worker){ path, "puts", i };
      threads[i] = g_thread_new ("client", put_worker, &workers[i]);
    }
  wait_ticket_connections ("puts", PUT_CLIENTS);
  wait_daemon_rss_settled ();
  get_thread = g_thread_new ("client", concurrent_worker, &get);
  /* The GET reached the daemon; half a second would serve it if it did
   * not wait. */
  wait_ticket_connections ("budget-get", 1);
  g_usleep (G_USEC_PER_SEC / 2);
  get_waited = !g_atomic_int_get (&get.done);
  test_pause_control (control_path, 'r');
  for (guint i = 0; i < PUT_CLIENTS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (workers[i].ok);
    }
  g_thread_join (get_thread);
  g_assert_true (get.ok);
  g_assert_true (get_waited);
  peak = daemon_status_kib ("VmHWM:");
  g_test_message ("daemon peak RSS %" G_GUINT64_FORMAT " KiB", peak);
  g_assert_cmpint (daemon_stop (&daemon_), ==, 0);
  daemon_ = shared;
  test_server_stop (g_steal_pointer (&server));

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint (size, ==, PUT_CLIENTS * PUT_SIZE);
  for (gsize i = 0; i < size; i += PUT_BLOCK)
    {
      guint8 block[PUT_BLOCK];

      memset (block, put_byte (i), PUT_BLOCK);
      if (memcmp (contents + i, block, PUT_BLOCK) != 0)
        g_error ("the block at %" G_GSIZE_FORMAT " differs", i);
    }
  g_unlink (path);
#ifndef UNDER_ASAN
  g_assert_cmpuint (peak, <, 64 * 1024);
#endif
}

/* How many descriptors the daemon has open on @path. */
static guint
count_open (const char *path)
{
  g_autoptr (GPtrArray) targets = test_fd_targets (daemon_.pid);
  guint count = 0;

  for (guint i = 0; i < targets->len; i++)
    count += g_str_equal (targets->pdata[i], path);
  return count;
}

/* Waits up to 30 s for the daemon to have @count descriptors on @path:
 * room for a daemon under ASan on a loaded machine. */
static void
assert_open_soon (const char *path, guint count)
{
  for (int i = 0; i < 300 && count_open (path) != count; i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (count_open (path), ==, count);
}

static void
get_first_byte (SoupSession *session, const char *id)
{
  g_autofree char *url = image_url (id, NULL);
  g_autoptr (Reply) reply
      = http (session, "GET", url, NULL, "Range", "bytes=0-0");

  g_assert_cmpuint (reply->status, ==, 206);
}

/* A client connection opens its own backend on its first request, keeps
 * it for the next ones, and the backend is closed with the connection;
 * the first backend, which the others are cloned from, with the last
 * connection. */
static void
test_connection_backends (void)
{
  g_autofree char *path = make_image ("conn.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, NULL);
  g_autoptr (SoupSession) first
      = soup_session_new_with_options ("tls-database", database, NULL);
  g_autoptr (SoupSession) second
      = soup_session_new_with_options ("tls-database", database, NULL);

  add_ticket ("conn", url, IMAGE_SIZE, "[\"read\"]", NULL);
  g_assert_cmpuint (count_open (path), ==, 0);
  for (int i = 0; i < 3; i++)
    get_first_byte (first, "conn");
  g_assert_cmpuint (count_open (path), ==, 1);
  for (int i = 0; i < 3; i++)
    {
      get_first_byte (second, "conn");
      get_first_byte (first, "conn");
    }
  g_assert_cmpuint (count_open (path), ==, 2);

  g_clear_object (&second);
  assert_open_soon (path, 1);
  g_clear_object (&first);
  assert_open_soon (path, 0);

  /* A connection after them opens the image again; removing the ticket
   * closes what its connection still holds. */
  second = soup_session_new_with_options ("tls-database", database, NULL);
  get_first_byte (second, "conn");
  g_assert_cmpuint (count_open (path), ==, 1);
  remove_ticket ("conn");
  g_assert_cmpuint (count_open (path), ==, 0);
}

static void
assert_served (const char *id, const char *expected_path, guint64 size)
{
  g_autoptr (Reply) reply = image_request ("GET", id, NULL, NULL, NULL, NULL);
  g_autoptr (GBytes) expected = file_bytes (expected_path, 0, size);

  g_assert_cmpuint (reply->status, ==, 200);
  assert_bytes (reply->body, expected);
}

/* Tickets on a qcow2 (through qemu-nbd), an nbdkit export and an OVA
 * member serve the guest data. */
static void
test_backends (void)
{
  g_autofree char *raw = make_image ("guest.raw");
  g_autofree char *qcow2 = g_build_filename (tmpdir, "guest.qcow2", NULL);
  g_autofree char *ova = g_build_filename (tmpdir, "vm.ova", NULL);
  g_autofree char *socket_path = g_build_filename (tmpdir, "nbdkit.sock", NULL);
  g_autofree char *file_arg = g_strconcat ("file=", raw, NULL);
  const char *const convert[]
      = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2, NULL };
  const char *const nbdkit[]
      = { "nbdkit", "-f", "-r", "-U", socket_path, "file", file_arg, NULL };
  const char *const paths[] = { raw, NULL };
  const char *const names[] = { "disk.raw", NULL };
  g_autoptr (TestServer) server = NULL;
  g_autofree char *qcow2_url = g_strconcat ("file://", qcow2, NULL);
  g_autofree char *ova_url
      = g_strconcat ("tar://", ova, "?member=disk.raw", NULL);
  guint64 offset, size;

  test_run_ok (convert);
  test_create_ova (ova, paths, names, &offset, &size);
  server = test_server_start (nbdkit, socket_path);

  add_ticket ("qcow2", qcow2_url, IMAGE_SIZE, "[\"read\"]",
              ", \"format\": \"qcow2\"");
  add_ticket ("nbdkit", test_server_get_uri (server), IMAGE_SIZE, "[\"read\"]",
              NULL);
  add_ticket ("ova", ova_url, IMAGE_SIZE, "[\"read\"]", NULL);
  assert_served ("qcow2", raw, IMAGE_SIZE);
  assert_served ("nbdkit", raw, IMAGE_SIZE);
  assert_served ("ova", raw, IMAGE_SIZE);
  {
    /* Without "format" the qcow2 file is served as it is: never probed. */
    g_autoptr (Reply) reply = NULL;
    add_ticket ("qcow2-bytes", qcow2_url, 4096, "[\"read\"]", NULL);
    reply = image_request ("GET", "qcow2-bytes", NULL, NULL, "Range",
                           "bytes=0-3");
    g_assert_cmpuint (reply->status, ==, 206);
    g_assert_cmpmem (g_bytes_get_data (reply->body, NULL), 4, "QFI\xfb", 4);
  }
  remove_ticket ("qcow2");
}

/* Bodies other than image data are bounded; a connection that used a
 * ticket counts among its connections while it stays open. */
static void
test_limits (void)
{
  g_autofree char *path = make_image ("limits.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *big = g_strnfill (70 * 1024, ' ');
  g_autoptr (Reply) patch = NULL;
  g_autoptr (Reply) got = NULL;
  g_autoptr (Reply) info = NULL;
  g_autoptr (JsonNode) root = NULL;

  add_ticket ("limits", url, IMAGE_SIZE, "[\"write\"]", NULL);
  patch = image_request ("PATCH", "limits", NULL, big, NULL, NULL);
  g_assert_cmpuint (patch->status, ==, 413);

  got = image_request ("GET", "limits", NULL, NULL, "Range", "bytes=0-9");
  g_assert_cmpuint (got->status, ==, 206);
  info = control ("GET", "limits", NULL);
  root = test_parse_json (reply_text (info));
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (root), "connections"),
      ==, 1);
}

/* curl to the daemon with @args after its own options: the response's
 * head (status line and header fields) in @head; its exit status. */
static int
curl_head (const char *const *args, char **head)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;

  g_strv_builder_add_many (builder, "curl", "-sS", "--cacert", ca_file, "-D",
                           "-", "-o", "/dev/null", NULL);
  g_strv_builder_addv (builder, (const char **)args);
  argv = g_strv_builder_end (builder);
  return test_run ((const char *const *)argv, head, NULL);
}

/* The value of the header field @name in @head, or NULL. */
static char *
head_field (const char *head, const char *name)
{
  g_auto (GStrv) lines = g_strsplit (head, "\r\n", -1);
  gsize length = strlen (name);

  for (guint i = 1; lines[i]; i++)
    if (g_ascii_strncasecmp (lines[i], name, length) == 0
        && lines[i][length] == ':')
      return g_strstrip (g_strdup (lines[i] + length + 1));
  return NULL;
}

/* What libsoup does not bound, the daemon does as imageio: a request
 * line over 16 KiB gets 414, over 100 header fields or 16 KiB of them
 * 431. A head over 64 KiB is dropped by libsoup with the connection,
 * unanswered; the daemon goes on serving. */
static void
test_http_limits (void)
{
  g_autofree char *long_path = g_strnfill (20000, 'a');
  g_autofree char *huge_path = g_strnfill (64 * 1024, 'a');
  g_autofree char *long_url = image_url (long_path, NULL);
  g_autofree char *huge_url = image_url (huge_path, NULL);
  g_autofree char *info = g_strdup_printf ("%s/info/", daemon_.url);
  g_autofree char *big_value = g_strnfill (20000, 'b');
  g_autofree char *big_field = g_strconcat ("X-Big: ", big_value, NULL);
  g_autoptr (GStrvBuilder) many = g_strv_builder_new ();
  g_auto (GStrv) many_args = NULL;
  g_autofree char *head = NULL;

  {
    const char *const args[] = { long_url, NULL };
    g_assert_cmpint (curl_head (args, &head), ==, 0);
    g_assert_true (g_str_has_prefix (head, "HTTP/1.1 414 "));
    g_clear_pointer (&head, g_free);
  }
  {
    const char *const args[] = { "-H", big_field, info, NULL };
    g_assert_cmpint (curl_head (args, &head), ==, 0);
    g_assert_true (g_str_has_prefix (head, "HTTP/1.1 431 "));
    g_clear_pointer (&head, g_free);
  }
  for (guint i = 0; i < 101; i++)
    {
      g_autofree char *field = g_strdup_printf ("X-Field-%u: %u", i, i);
      g_strv_builder_add_many (many, "-H", field, NULL);
    }
  g_strv_builder_add (many, info);
  many_args = g_strv_builder_end (many);
  g_assert_cmpint (curl_head ((const char *const *)many_args, &head), ==, 0);
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 431 "));
  g_clear_pointer (&head, g_free);
  {
    /* curl: "Empty reply from server". */
    const char *const args[] = { huge_url, NULL };
    g_assert_cmpint (curl_head (args, &head), !=, 0);
    g_assert_cmpstr (head, ==, "");
    g_clear_pointer (&head, g_free);
  }
  {
    const char *const args[] = { info, NULL };
    g_assert_cmpint (curl_head (args, &head), ==, 0);
    g_assert_true (g_str_has_prefix (head, "HTTP/1.1 200 "));
  }
}

/* The CORS header fields imageio adds to an image's GET, PUT and OPTIONS
 * for a browser's request, on errors too; none on other requests. */
static void
test_cors (void)
{
  g_autofree char *path = make_image ("cors.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autofree char *image = image_url ("cors", NULL);
  g_autofree char *unknown = image_url ("no-such-ticket", NULL);
  g_autofree char *head = NULL;
  static const char *const fields[]
      = { "Access-Control-Allow-Origin", "Access-Control-Allow-Headers",
          "Access-Control-Allow-Methods", "Access-Control-Max-Age" };
  const struct
  {
    const char *args[12];
    const char *status;
    const char *values[G_N_ELEMENTS (fields)];
  } cases[] = {
    { { "-X", "OPTIONS", "-H", "Origin: https://engine", "-H",
        "Access-Control-Request-Method: PUT", "-H",
        "Access-Control-Request-Headers: content-range", image },
      "200",
      { "*", "*", "OPTIONS,GET,PUT", "86400" } },
    { { "-H", "Origin: https://engine", "-r", "0-0", image },
      "206",
      { "*", NULL, NULL, "86400" } },
    { { "-H", "Access-Control-Request-Method: GET", "-r", "0-0", image },
      "206",
      { NULL, NULL, "*", "86400" } },
    { { "-H", "Origin: https://engine", unknown },
      "403",
      { "*", NULL, NULL, "86400" } },
    { { "-r", "0-0", image }, "206", { NULL } },
    { { "-X", "PATCH", "-H", "Origin: https://engine", "--data-binary",
        "{\"op\": \"flush\"}", image },
      "403",
      { NULL } },
  };

  add_ticket ("cors", url, IMAGE_SIZE, "[\"read\"]", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *status
          = g_strdup_printf ("HTTP/1.1 %s ", cases[i].status);

      g_assert_cmpint (curl_head (cases[i].args, &head), ==, 0);
      g_assert_true (g_str_has_prefix (head, status));
      for (guint j = 0; j < G_N_ELEMENTS (fields); j++)
        {
          g_autofree char *value = head_field (head, fields[j]);
          g_assert_cmpstr (value, ==, cases[i].values[j]);
        }
      g_clear_pointer (&head, g_free);
    }
  remove_ticket ("cors");
}

/* Dirty extents of a ticket that names the NBD export's bitmap. */
static void
test_dirty_extents (void)
{
  g_autofree char *qcow2 = g_build_filename (tmpdir, "dirty.qcow2", NULL);
  g_autofree char *socket_path = g_build_filename (tmpdir, "dirty.sock", NULL);
  const char *const add_bitmap[]
      = { "qemu-img", "bitmap", "--add", qcow2, "b0", NULL };
  const char *const writes[] = { "write -P 0x55 1m 64k", NULL };
  const char *const qemu_nbd[]
      = { "qemu-nbd", "-r", "-t", "-k",  socket_path, "-f",
          "qcow2",    "-B", "b0", qcow2, NULL };
  g_autoptr (TestServer) server = NULL;
  g_autoptr (Reply) dirty = NULL;

  test_qemu_img_create (qcow2, "qcow2", "8M", NULL, NULL);
  test_run_ok (add_bitmap);
  test_qemu_io (qcow2, "qcow2", writes);
  server = test_server_start (qemu_nbd, socket_path);
  add_ticket ("dirty", test_server_get_uri (server), IMAGE_SIZE, "[\"read\"]",
              ", \"dirty\": true, \"bitmap\": \"b0\"");
  dirty = image_request ("GET", "dirty", "/extents?context=dirty", NULL, NULL,
                         NULL);
  g_assert_cmpuint (dirty->status, ==, 200);
  g_assert_cmpstr (reply_text (dirty), ==,
                   "[{\"start\": 0, \"length\": 1048576, \"dirty\": false, "
                   "\"zero\": true}, {\"start\": 1048576, \"length\": 65536, "
                   "\"dirty\": true, \"zero\": false}, {\"start\": 1114112, "
                   "\"length\": 7274496, \"dirty\": false, \"zero\": true}]\n");
  remove_ticket ("dirty");
}

/* A connection idle for longer than its ticket's inactivity timeout is
 * closed by the daemon. */
static void
test_inactivity (void)
{
  g_autofree char *path = make_image ("idle.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  g_autoptr (Reply) got = NULL;
  gint64 connections = -1;

  add_ticket ("idle", url, IMAGE_SIZE, "[\"read\"]",
              ", \"inactivity_timeout\": 1");
  got = image_request ("GET", "idle", NULL, NULL, "Range", "bytes=0-0");
  g_assert_cmpuint (got->status, ==, 206);
  for (int i = 0; i < 100 && connections != 0; i++)
    {
      g_autoptr (Reply) info = control ("GET", "idle", NULL);
      g_autoptr (JsonNode) root = test_parse_json (reply_text (info));

      connections = json_object_get_int_member (json_node_get_object (root),
                                                "connections");
      if (i == 0)
        g_assert_cmpint (connections, ==, 1);
      g_usleep (100 * 1000);
    }
  g_assert_cmpint (connections, ==, 0);
}

/* Bad command lines and configurations: one line, the right exit code. */
static void
test_cli_errors (void)
{
  g_autofree char *conf = g_build_filename (tmpdir, "bad.conf", NULL);
  const char *const both[]
      = { "serve", "--control-socket", "/x.sock", "--control-port", "0", NULL };
  const char *const bad_conf[]
      = { "serve", "--foreground", "--config", conf, NULL };
  g_autofree char *err = NULL;
  g_autofree char *expected
      = g_strdup_printf ("imgxfer: %s: unknown key [remote] bogus\n", conf);

  static const struct
  {
    const char *argv[8];
    const char *message;
  } usage[] = {
    { { "serve", "--port", "-5" },
      "imgxfer serve: --port -5: not a port (0 to 65535)" },
    { { "serve", "--port", "70000" },
      "imgxfer serve: --port 70000: not a port (0 to 65535)" },
    { { "serve", "--port", "80x" },
      "imgxfer serve: --port 80x: not a port (0 to 65535)" },
    { { "serve", "--control-port", "65536" },
      "imgxfer serve: --control-port 65536: not a port (0 to 65535)" },
    { { "serve", "--control-port", "-1" },
      "imgxfer serve: --control-port -1: not a port (0 to 65535)" },
    { { "ticket", "--control-port", "-1", "show", "t" },
      "imgxfer ticket: --control-port -1: not a port (0 to 65535)" },
    { { "ticket", "--control-port", "99999", "show", "t" },
      "imgxfer ticket: --control-port 99999: not a port (0 to 65535)" },
    { { "ticket", "--control-socket", "/x.sock", "--control-port", "1", "show",
        "t" },
      "imgxfer ticket: --control-socket and --control-port exclude each "
      "other" },
  };

  g_assert_cmpint (test_run_cli (both, NULL, &err), ==, 2);
  g_assert_true (g_str_has_prefix (err, "imgxfer serve: --control-socket "
                                        "and --control-port exclude each "
                                        "other\n"));
  g_clear_pointer (&err, g_free);
  for (guint i = 0; i < G_N_ELEMENTS (usage); i++)
    {
      g_autofree char *line = g_strconcat (usage[i].message, "\n", NULL);

      g_assert_cmpint (test_run_cli (usage[i].argv, NULL, &err), ==, 2);
      g_assert_true (g_str_has_prefix (err, line));
      g_clear_pointer (&err, g_free);
    }
  g_assert_true (g_file_set_contents (conf, "[remote]\nbogus = 1\n", -1, NULL));
  g_assert_cmpint (test_run_cli (bad_conf, NULL, &err), ==, 1);
  g_assert_cmpstr (err, ==, expected);
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf (
      "imgxfer: %s: [control] socket and port exclude each other\n", conf);
  g_assert_true (g_file_set_contents (
      conf, "[control]\nsocket = /x.sock\nport = 0\n", -1, NULL));
  g_assert_cmpint (test_run_cli (bad_conf, NULL, &err), ==, 1);
  g_assert_cmpstr (err, ==, expected);
}

/* Without --cert and --key the daemon makes a self-signed certificate in
 * its state directory, in the background unless --foreground. */
static void
test_self_signed (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "selfsigned", NULL);
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *conf = g_build_filename (dir, "serve.conf", NULL);
  g_autofree char *conf_text = g_strdup_printf (
      "[daemon]\nstate_dir = %s\n[local]\nenable = false\n", state);
  g_autofree char *cert = g_build_filename (state, "cert.pem", NULL);
  g_autofree char *control_socket
      = g_build_filename (state, "control.sock", NULL);
  const char *const argv[] = { "serve", "--host",   "127.0.0.1", "--port",
                               "0",     "--config", conf,        NULL };
  g_autofree char *out = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GTlsDatabase) database = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (Reply) info = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocket) socket = NULL;
  struct ucred peer;
  socklen_t length = sizeof peer;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  /* Returns once the daemon, in the background, listens. */
  g_assert_cmpint (test_run_cli (argv, &out, NULL), ==, 0);
  url = g_strdup (strstr (out, "listening on ") + strlen ("listening on "));
  g_strstrip (url);
  g_assert_true (g_file_test (cert, G_FILE_TEST_EXISTS));

  database = g_tls_file_database_new (cert, NULL);
  session = soup_session_new_with_options ("tls-database", database, NULL);
  {
    g_autofree char *info_url = g_strconcat (url, "/info/", NULL);
    info = http (session, "GET", info_url, NULL, NULL, NULL);
  }
  g_assert_cmpuint (info->status, ==, 200);

  /* Stopped through its control socket's peer: the daemon itself. */
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  address = g_unix_socket_address_new (control_socket);
  g_assert_true (g_socket_connect (socket, address, NULL, NULL));
  g_assert_cmpint (getsockopt (g_socket_get_fd (socket), SOL_SOCKET,
                               SO_PEERCRED, &peer, &length),
                   ==, 0);
  g_socket_close (socket, NULL);
  g_assert_cmpint (kill (peer.pid, SIGTERM), ==, 0);
  for (int i = 0; i < 2000 && kill (peer.pid, 0) == 0; i++)
    g_usleep (10000);
  g_assert_cmpint (kill (peer.pid, 0), !=, 0);
}

/* The pids of the processes whose command line names @path. */
static guint
count_processes_using (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint count = 0;

  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *file = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *cmdline = NULL;
      gsize length;

      if (!g_ascii_isdigit (*name)
          || !g_file_get_contents (file, &cmdline, &length, NULL))
        continue;
      for (gsize i = 0; i + 1 < length; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (strstr (cmdline, path))
        count++;
    }
  return count;
}

/* Waits up to 60 s until ticket @id of @daemon counts more than @bytes
 * transferred: a request is under way. */
static void
wait_transferred (Daemon *daemon, const char *id, gint64 bytes)
{
  g_autofree char *url = g_strdup_printf ("http://localhost/tickets/%s", id);
  gint64 transferred = -1;

  for (int i = 0; i < 600 && transferred <= bytes; i++)
    {
      g_autoptr (Reply) reply
          = http (daemon->control_session, "GET", url, NULL, NULL, NULL);
      g_autoptr (JsonNode) root = test_parse_json (reply_text (reply));

      transferred = json_object_get_int_member (json_node_get_object (root),
                                                "transferred");
      if (transferred <= bytes)
        g_usleep (G_USEC_PER_SEC / 10);
    }
  g_assert_cmpint (transferred, >, bytes);
}

/* @signal while a PUT streams into a qcow2 (through the daemon's
 * qemu-nbd): the daemon exits 0 within 10 s, what an earlier PUT wrote
 * with ?flush=n and was acknowledged is in the image, which qemu finds
 * clean, and no qemu-nbd is left. */
static void
stop_during_put (gconstpointer signal_data)
{
  int signal = GPOINTER_TO_INT (signal_data);
  g_autofree char *dir = g_build_filename (
      tmpdir, signal == SIGINT ? "sigint" : "sigterm", NULL);
  g_autofree char *qcow2 = g_build_filename (dir, "target.qcow2", NULL);
  g_autofree char *url = g_strconcat ("file://", qcow2, NULL);
  g_autofree char *data_path = g_build_filename (dir, "data.raw", NULL);
  g_autofree char *acked_path = g_build_filename (dir, "acked.raw", NULL);
  g_autofree char *out_path = g_build_filename (dir, "out.raw", NULL);
  g_autofree char *body = g_strdup_printf (
      "{\"uuid\": \"w\", \"url\": \"%s\", \"size\": %d, \"ops\": "
      "[\"write\"], \"timeout\": 300, \"format\": \"qcow2\"}",
      url, 64 * MiB);
  g_autofree char *image = NULL;
  g_autofree char *slow_image = NULL;
  const char *const check[] = { "qemu-img", "check", "-q", qcow2, NULL };
  const char *const convert[]
      = { "qemu-img", "convert", "-f",     "qcow2", "-O",
          "raw",      qcow2,     out_path, NULL };
  Daemon second = { 0 };
  GPid curl;
  gint64 start;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  test_qemu_img_create (qcow2, "qcow2", "64M", NULL, NULL);
  test_write_pattern (data_path, 0, 32 * MiB, 0x3c);
  test_write_pattern (acked_path, 0, MiB, 0x3c);
  daemon_start (&second, dir);
  {
    g_autoptr (Reply) added
        = http (second.control_session, "PUT", "http://localhost/tickets/w",
                body, NULL, NULL);
    g_assert_cmpuint (added->status, ==, 200);
  }
  image = g_strdup_printf ("%s/images/w?flush=n", second.url);
  {
    g_autoptr (SoupMessage) msg = soup_message_new ("PUT", image);
    g_autoptr (GBytes) data = file_bytes (data_path, 0, MiB);
    g_autoptr (GBytes) reply = NULL;
    g_autoptr (GError) error = NULL;

    soup_message_set_request_body_from_bytes (msg, NULL, data);
    reply = soup_session_send_and_read (second.https, msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  }
  g_assert_cmpuint (count_processes_using (qcow2), >=, 1);

  /* A slow upload of the rest, cut by the signal. */
  slow_image = g_strdup_printf ("%s/images/w", second.url);
  {
    g_autofree char *upload = g_strconcat ("@", data_path, NULL);
    const char *argv[] = { "curl",
                           "-sS",
                           "--cacert",
                           ca_file,
                           "--limit-rate",
                           "2M",
                           "-X",
                           "PUT",
                           "-H",
                           "Content-Range: bytes 1048576-34603007/*",
                           "--data-binary",
                           upload,
                           slow_image,
                           NULL };
    g_assert_true (g_spawn_async (
        NULL, (char **)argv, NULL,
        G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
            | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
        die_with_parent, NULL, &curl, NULL));
  }
  /* Past the acknowledged MiB: the slow PUT streams. */
  wait_transferred (&second, "w", MiB);
  start = g_get_monotonic_time ();
  g_assert_cmpint (test_daemon_stop_with (&second, signal), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  kill (curl, SIGKILL);
  waitpid (curl, NULL, 0);
  g_spawn_close_pid (curl);

  g_assert_cmpuint (count_processes_using (qcow2), ==, 0);
  test_run_ok (check);
  test_run_ok (convert);
  /* The acknowledged MiB, compared by qemu. */
  g_assert_cmpint (truncate (out_path, MiB), ==, 0);
  test_assert_images_equal (acked_path, "raw", out_path, "raw", TRUE);
}

/* The daemon's own messages on stderr, and its stdout's lines up to
 * "listening on": `imgxfer serve` with @options, on a free loopback port,
 * its state in @dir. */
static GSubprocess *
serve_with (const char *dir, const char *const *options, const char *log,
            char **url, char **control)
{
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  g_strv_builder_add_many (builder, g_getenv ("IMGXFER_CLI"), "serve",
                           "--foreground", "--host", "127.0.0.1", "--port", "0",
                           "--no-local", NULL);
  g_strv_builder_addv (builder, (const char **)options);
  argv = g_strv_builder_end (builder);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv,
                                          &error);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  for (;;)
    {
      g_autofree char *line
          = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "control on ") && control)
        *control = g_strdup (line + strlen ("control on "));
      if (g_str_has_prefix (line, "listening on "))
        {
          *url = g_strdup (line + strlen ("listening on "));
          return process;
        }
    }
}

/* SIGTERM; it exits 0. */
static void
serve_stop (GSubprocess *process)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (process, SIGTERM);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

/* GET /info/ of @url, trusting the CA file @ca only. */
static guint
info_status (const char *url, const char *ca)
{
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca, NULL);
  g_autoptr (SoupSession) session
      = soup_session_new_with_options ("tls-database", database, NULL);
  g_autofree char *info = g_strconcat (url, "/info/", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", info);
  g_autoptr (GBytes) body
      = soup_session_send_and_read (session, msg, NULL, NULL);

  return body ? soup_message_get_status (msg) : 0;
}

/* --ca sends the chain after the certificate: a client that trusts only
 * the root CA accepts a certificate an intermediate CA signed, and
 * without --ca it does not. */
static void
test_ca_chain (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "chain", NULL);
  g_autofree char *root_key = g_build_filename (tmpdir, "ca.key", NULL);
  g_autofree char *inter = g_build_filename (dir, "inter.pem", NULL);
  g_autofree char *inter_key = g_build_filename (dir, "inter.key", NULL);
  g_autofree char *leaf = g_build_filename (dir, "leaf.pem", NULL);
  g_autofree char *leaf_key = g_build_filename (dir, "leaf.key", NULL);
  g_autofree char *control = g_build_filename (dir, "control.sock", NULL);
  g_autofree char *log = g_build_filename (dir, "serve.log", NULL);
  const char *const with_chain[]
      = { "--cert",           leaf,    "--key", leaf_key, "--ca", inter,
          "--control-socket", control, NULL };
  const char *const without[] = {
    "--cert", leaf, "--key", leaf_key, "--control-socket", control, NULL
  };

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  test_sign_certificate (dir, "/CN=test intermediate CA", ca_file, root_key,
                         "basicConstraints=critical,CA:TRUE\n"
                         "keyUsage=critical,keyCertSign,cRLSign\n",
                         inter, inter_key);
  test_sign_certificate (dir, "/CN=localhost", inter, inter_key,
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\n", leaf,
                         leaf_key);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *url = NULL;
      g_autoptr (GSubprocess) process
          = serve_with (dir, i == 0 ? with_chain : without, log, &url, NULL);

      g_assert_cmpuint (info_status (url, ca_file), ==, i == 0 ? 200 : 0);
      serve_stop (process);
    }
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* -v: one line on stderr per request, with its method, path and status,
 * on every service. */
static void
test_verbose (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "verbose", NULL);
  g_autofree char *control = g_build_filename (dir, "control.sock", NULL);
  g_autofree char *log = g_build_filename (dir, "serve.log", NULL);
  const char *const options[]
      = { "-v",     "--cert",           cert_file, "--key",
          key_file, "--control-socket", control,   NULL };
  g_autofree char *url = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, NULL);
  g_autoptr (SoupSession) https
      = soup_session_new_with_options ("tls-database", database, NULL);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (control);
  g_autoptr (SoupSession) control_session
      = soup_session_new_with_options ("remote-connectable", address, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  process = serve_with (dir, options, log, &url, NULL);
  {
    g_autofree char *info = g_strconcat (url, "/info/", NULL);
    g_autofree char *nope = g_strconcat (url, "/images/nope", NULL);
    g_autoptr (Reply) a = http (https, "GET", info, NULL, NULL, NULL);
    g_autoptr (Reply) b = http (https, "GET", nope, NULL, NULL, NULL);
    g_autoptr (Reply) c = http (control_session, "GET",
                                "http://localhost/tickets/t", NULL, NULL, NULL);
  }
  serve_stop (process);
  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  /* A line is written when its answer has gone out, so the client may
   * send its next request, to another service, before that: the lines
   * are compared in order of their paths. */
  lines = g_strsplit (text, "\n", -1);
  qsort (lines, g_strv_length (lines), sizeof (char *), compare_strings);
  g_free (text);
  text = g_strjoinv ("\n", lines);
  g_assert_cmpstr (text, ==,
                   "\n"
                   "imgxfer: GET /images/nope 403\n"
                   "imgxfer: GET /info/ 200\n"
                   "imgxfer: GET /tickets/t 404");
}

/* Whether /proc/net/@table has a listening socket on @port, and on which
 * address (hexadecimal, as the kernel writes it). */
static char *
listening_address (const char *table, guint port)
{
  g_autofree char *path = g_build_filename ("/proc/net", table, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *suffix = g_strdup_printf (":%04X", port);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      g_auto (GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      g_auto (GStrv) words = NULL;

      for (guint j = 0; fields[j]; j++)
        if (*fields[j])
          g_strv_builder_add (builder, fields[j]);
      words = g_strv_builder_end (builder);
      /* sl local_address rem_address st: 0A is LISTEN. */
      if (g_strv_length (words) > 3 && g_str_has_suffix (words[1], suffix)
          && g_str_equal (words[3], "0A"))
        return g_strndup (words[1], strlen (words[1]) - strlen (suffix));
    }
  return NULL;
}

/* --control-port: the control service on loopback TCP, and nowhere
 * else. */
static void
test_control_port (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "control-port", NULL);
  g_autofree char *log = g_build_filename (dir, "serve.log", NULL);
  g_autofree char *path = make_image ("control-port.raw");
  g_autofree char *image = g_strconcat ("file://", path, NULL);
  const char *const options[]
      = { "--cert", cert_file, "--key", key_file, "--control-port", "0", NULL };
  g_autofree char *url = NULL;
  g_autofree char *control = NULL;
  g_autofree char *ticket = NULL;
  g_autofree char *body = g_strdup_printf (
      "{\"uuid\": \"p\", \"url\": \"%s\", \"size\": %d, \"ops\": "
      "[\"read\"], \"timeout\": 60}",
      image, IMAGE_SIZE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (SoupSession) session = soup_session_new ();
  guint64 port;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  process = serve_with (dir, options, log, &url, &control);
  g_assert_true (g_str_has_prefix (control, "http://127.0.0.1:"));
  g_assert_true (g_ascii_string_to_unsigned (
      control + strlen ("http://127.0.0.1:"), 10, 1, 65535, &port, NULL));
  ticket = g_strconcat (control, "/tickets/p", NULL);
  {
    g_autoptr (Reply) added = http (session, "PUT", ticket, body, NULL, NULL);
    g_autoptr (Reply) shown = http (session, "GET", ticket, NULL, NULL, NULL);
    g_autofree char *address = listening_address ("tcp", port);
    g_autofree char *address6 = listening_address ("tcp6", port);

    g_assert_cmpuint (added->status, ==, 200);
    g_assert_cmpuint (shown->status, ==, 200);
    g_assert_cmpstr (address, ==, "0100007F");
    g_assert_null (address6);
  }
  serve_stop (process);
}

/* imgxfer ticket: a client of the control service printing JSON. */
static void
test_ticket_cli (void)
{
  g_autofree char *path = make_image ("cli.raw");
  g_autofree char *url = g_strconcat ("file://", path, NULL);
  const char *const add[] = { "ticket",
                              "add",
                              "--control-socket",
                              daemon_.control,
                              "--id",
                              "cli",
                              "--url",
                              url,
                              "--size",
                              "8m",
                              "--ops",
                              "read,write",
                              "--timeout",
                              "60",
                              NULL };
  const char *const extend[]
      = { "ticket", "extend", "--control-socket", daemon_.control, "cli",
          "600",    NULL };
  const char *const del[]
      = { "ticket", "del", "--control-socket", daemon_.control, "cli", NULL };
  const char *const show[]
      = { "ticket", "show", "--control-socket", daemon_.control, "cli", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (JsonNode) added = NULL;
  g_autoptr (JsonNode) extended = NULL;
  JsonObject *object;

  g_assert_cmpint (test_run_cli (add, &out, NULL), ==, 0);
  added = test_parse_json (out);
  object = json_node_get_object (added);
  g_assert_cmpstr (json_object_get_string_member (object, "uuid"), ==, "cli");
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, IMAGE_SIZE);
  g_assert_cmpint (json_object_get_int_member (object, "timeout"), ==, 60);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_run_cli (extend, &out, NULL), ==, 0);
  extended = test_parse_json (out);
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (extended), "expires"),
      >=, json_object_get_int_member (object, "expires") + 500);
  g_assert_cmpint (test_run_cli (del, NULL, NULL), ==, 0);
  g_assert_cmpint (test_run_cli (show, NULL, &err), ==, 1);
  g_assert_cmpstr (err, ==,
                   "imgxfer: control service: 404 No such ticket 'cli'\n");
}

/* A daemon that does not exit on the signal it gets is killed, and
 * reaped, once the time to stop is up, and the test that stopped it
 * fails, saying so. */
static void
test_stop_timeout (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = g_build_filename (tmpdir, "stuck", NULL);
      Daemon stuck = { 0 };
      GPid pid;

      g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
      daemon_start (&stuck, dir);
      pid = stuck.pid;
      /* SIGCONT: nothing the daemon stops on. */
      test_daemon_stop_within (&stuck, SIGCONT, 1);
      g_print ("daemon gone: %d\n", test_process_gone (pid));
      /* A subprocess whose test failed exits before main() cleans up. */
      g_assert_cmpint (daemon_stop (&daemon_), ==, 0);
      test_tmpdir_free (g_steal_pointer (&tmpdir));
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("*daemon gone: 1*");
  g_test_trap_assert_stderr ("*imgxfer serve (pid *) did not exit 1 s after "
                             "signal 18: killed*");
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
  daemon_start (&daemon_, tmpdir);

  g_test_add_func ("/serve/options", test_options);
  g_test_add_func ("/serve/tickets", test_tickets);
  g_test_add_func ("/serve/ticket-replace", test_ticket_replace);
  g_test_add_func ("/serve/get", test_get);
  g_test_add_func ("/serve/put-patch", test_put_patch);
  g_test_add_func ("/serve/put-refused", test_put_refused);
  g_test_add_func ("/serve/put-write-error", test_put_write_error);
  g_test_add_func ("/serve/put-small-image", test_put_small_image);
  g_test_add_func ("/serve/put-chunked", test_put_chunked);
  g_test_add_func ("/serve/extents-checksum", test_extents_checksum);
  g_test_add_func ("/serve/routes", test_routes);
  g_test_add_func ("/serve/expired", test_expired);
  g_test_add_func ("/serve/delete-during-get", test_delete_during_get);
  g_test_add_func ("/serve/get-read-error", test_get_read_error);
  g_test_add_func ("/serve/concurrent", test_concurrent);
  g_test_add_func ("/serve/put-memory", test_put_memory);
  g_test_add_func ("/serve/connection-backends", test_connection_backends);
  g_test_add_func ("/serve/backends", test_backends);
  g_test_add_func ("/serve/ticket-cli", test_ticket_cli);
  g_test_add_func ("/serve/limits", test_limits);
  g_test_add_func ("/serve/http-limits", test_http_limits);
  g_test_add_func ("/serve/cors", test_cors);
  g_test_add_func ("/serve/cli-errors", test_cli_errors);
  g_test_add_func ("/serve/dirty-extents", test_dirty_extents);
  g_test_add_func ("/serve/inactivity", test_inactivity);
  g_test_add_func ("/serve/self-signed", test_self_signed);
  g_test_add_data_func ("/serve/sigterm-put", GINT_TO_POINTER (SIGTERM),
                        stop_during_put);
  g_test_add_data_func ("/serve/sigint-put", GINT_TO_POINTER (SIGINT),
                        stop_during_put);
  g_test_add_func ("/serve/ca-chain", test_ca_chain);
  g_test_add_func ("/serve/verbose", test_verbose);
  g_test_add_func ("/serve/control-port", test_control_port);
  g_test_add_func ("/serve/stop-timeout", test_stop_timeout);
  status = g_test_run ();

  if (tmpdir != NULL)
    {
      g_assert_cmpint (daemon_stop (&daemon_), ==, 0);
      test_tmpdir_free (tmpdir);
    }
  return status;
}
