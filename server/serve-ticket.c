/* serve-ticket.c: a transfer ticket: what one client may do to one image
 *
 * The keys, their types and the messages follow imageio's tickets, so that
 * oVirt's engine and imageio's tests see the same answers. Times are whole
 * seconds of the monotonic clock, as imageio reports them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-image.h"
#include "serve-json.h"
#include "serve-ticket.h"

struct _ServeTicket
{
  gatomicrefcount ref;

  char *uuid;
  char *url;
  char *format; /* imgxfer's own key: the image's format, never probed */
  char *bitmap; /* imgxfer's own key: the dirty bitmap of dirty tickets */
  char *transfer_id;
  char *filename;
  guint64 size;
  char **ops;
  guint timeout;
  guint inactivity_timeout;
  gboolean sparse;
  gboolean dirty;
  ServeImage *image;

  GMutex lock;
  GCond unused; /* signalled when the last operation of a cancelled ticket
                   ends */
  gint64 expires;
  gint64 access_time;
  gboolean canceled;
  guint connections;
  GPtrArray *ongoing; /* ServeOp */
  GArray *completed;  /* merged [start, end) pairs of guint64 */
};

static gint64
now_seconds (void)
{
  return g_get_monotonic_time () / G_USEC_PER_SEC;
}

static gboolean
invalid (GError **error, const char *key, JsonNode *value, const char *reason)
{
  g_autofree char *text = json_to_string (value, FALSE);

  g_set_error (error, SERVE_ERROR, 400,
               "Invalid ticket: Invalid value for '%s': %s: %s", key, text,
               reason);
  return FALSE;
}

static JsonNode *
member (JsonObject *object, const char *key, gboolean required, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL && required)
    g_set_error (error, SERVE_ERROR, 400,
                 "Invalid ticket: Required ticket parameter is missing: %s",
                 key);
  return node;
}

static gboolean
get_string (JsonObject *object, const char *key, gboolean required, char **out,
            GError **error)
{
  JsonNode *node = member (object, key, required, error);

  if (node == NULL)
    return !required;
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, key, node, "expecting a string value");
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_uint (JsonObject *object, const char *key, gboolean required, guint64 max,
          guint64 *out, GError **error)
{
  JsonNode *node = member (object, key, required, error);

  if (node == NULL)
    return !required;
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, key, node, "expecting an integer value");
  if (json_node_get_int (node) < 0 || (guint64)json_node_get_int (node) > max)
    return invalid (error, key, node, "out of range");
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject *object, const char *key, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid (error, key, node, "expecting a boolean value");
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
get_ops (JsonObject *object, char ***out, GError **error)
{
  JsonNode *node = member (object, "ops", TRUE, error);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "ops", node, "expecting a list value");
  array = json_node_get_array (node);
  /* imageio takes an empty list, for a ticket that allows nothing. */
  if (json_array_get_length (array) == 0)
    return invalid (error, "ops", node, "expecting at least one operation");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      const char *op = json_array_get_string_element (array, i);

      if (op == NULL
          || !(g_str_equal (op, "read") || g_str_equal (op, "write")))
        return invalid (error, "ops", node,
                        "expecting a list of \"read\" and \"write\"");
      g_strv_builder_add (builder, op);
    }
  *out = g_strv_builder_end (builder);
  return TRUE;
}

/* What imageio checks, and what imgxfer needs beyond it: a URL the
 * library's parser takes, with a scheme (never a plain path, which would
 * be relative to the daemon), and an archive member read only. */
static gboolean
check_url (ServeTicket *self, GError **error)
{
  g_autoptr (JsonNode) value
      = json_node_init_string (json_node_alloc (), self->url);
  g_autoptr (ImgxferUrl) url = imgxfer_url_parse (self->url, NULL);
  const char *scheme = url ? imgxfer_url_get_scheme (url) : "";

  if (*scheme == '\0')
    return invalid (error, "url", value, "expecting an absolute URL");
  if (g_str_equal (scheme, "tar") && serve_ticket_may (self, "write"))
    return invalid (error, "url", value, "an archive member is read only");
  return TRUE;
}

static gboolean
parse (ServeTicket *self, JsonObject *object, GError **error)
{
  guint64 timeout = 0, inactivity = self->inactivity_timeout;

  if (!get_string (object, "uuid", FALSE, &self->uuid, error))
    return FALSE;
  if (self->uuid == NULL
      && !get_string (object, "name", TRUE, &self->uuid, error))
    return FALSE;
  if (!get_uint (object, "size", TRUE, G_MAXINT64, &self->size, error)
      || !get_ops (object, &self->ops, error)
      || !get_uint (object, "timeout", TRUE, G_MAXUINT32, &timeout, error)
      || !get_uint (object, "inactivity_timeout", FALSE, G_MAXUINT32,
                    &inactivity, error)
      || !get_string (object, "url", TRUE, &self->url, error)
      || !get_string (object, "transfer_id", FALSE, &self->transfer_id, error)
      || !get_string (object, "filename", FALSE, &self->filename, error)
      || !get_bool (object, "sparse", &self->sparse, error)
      || !get_bool (object, "dirty", &self->dirty, error)
      || !get_string (object, "format", FALSE, &self->format, error)
      || !get_string (object, "bitmap", FALSE, &self->bitmap, error))
    return FALSE;
  self->timeout = timeout;
  self->inactivity_timeout = inactivity;
  if (self->transfer_id == NULL)
    self->transfer_id = g_strdup_printf ("(ticket/%.18s)", self->uuid);
  return check_url (self, error);
}

ServeTicket *
serve_ticket_new (JsonNode *node, guint default_inactivity_timeout,
                  GError **error)
{
  g_autoptr (ServeTicket) self = g_new0 (ServeTicket, 1);

  g_atomic_ref_count_init (&self->ref);
  g_mutex_init (&self->lock);
  g_cond_init (&self->unused);
  self->ongoing = g_ptr_array_new ();
  self->completed = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->inactivity_timeout = default_inactivity_timeout;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, SERVE_ERROR, 400,
                           "Invalid ticket: expecting a JSON object");
      return NULL;
    }
  if (!parse (self, json_node_get_object (node), error))
    return NULL;

  self->access_time = now_seconds ();
  self->expires = self->access_time + self->timeout;
  self->image = serve_image_new (self->url, self->format, self->bitmap,
                                 serve_ticket_may (self, "write"), self->size);
  return g_steal_pointer (&self);
}

ServeTicket *
serve_ticket_ref (ServeTicket *self)
{
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
serve_ticket_unref (ServeTicket *self)
{
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  g_clear_pointer (&self->image, serve_image_free);
  g_free (self->uuid);
  g_free (self->url);
  g_free (self->format);
  g_free (self->bitmap);
  g_free (self->transfer_id);
  g_free (self->filename);
  g_strfreev (self->ops);
  g_ptr_array_unref (self->ongoing);
  g_array_unref (self->completed);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->unused);
  g_free (self);
}

const char *
serve_ticket_get_uuid (ServeTicket *self)
{
  return self->uuid;
}

const char *
serve_ticket_get_transfer_id (ServeTicket *self)
{
  return self->transfer_id;
}

const char *
serve_ticket_get_filename (ServeTicket *self)
{
  return self->filename;
}

guint64
serve_ticket_get_size (ServeTicket *self)
{
  return self->size;
}

gboolean
serve_ticket_get_dirty (ServeTicket *self)
{
  return self->dirty;
}

gboolean
serve_ticket_get_sparse (ServeTicket *self)
{
  return self->sparse;
}

guint
serve_ticket_get_inactivity_timeout (ServeTicket *self)
{
  return self->inactivity_timeout;
}

ServeImage *
serve_ticket_get_image (ServeTicket *self)
{
  return self->image;
}

gboolean
serve_ticket_may (ServeTicket *self, const char *op)
{
  if (g_str_equal (op, "read"))
    return g_strv_contains ((const char *const *)self->ops, "read")
           || g_strv_contains ((const char *const *)self->ops, "write");
  return g_strv_contains ((const char *const *)self->ops, op);
}

gboolean
serve_ticket_authorize (ServeTicket *self, const char *op, GError **error)
{
  const char *reason = NULL;
  g_autofree char *forbids = NULL;

  g_mutex_lock (&self->lock);
  if (self->canceled)
    reason = "was canceled";
  else if (self->expires <= now_seconds ())
    reason = "expired";
  else if (!serve_ticket_may (self, op))
    reason = forbids = g_strdup_printf ("forbids %s", op);
  g_mutex_unlock (&self->lock);

  if (reason == NULL)
    return TRUE;
  g_set_error (error, SERVE_ERROR, 403,
               "You are not allowed to access this resource: Transfer=%s %s",
               self->transfer_id, reason);
  return FALSE;
}

static gboolean
canceled_error (ServeTicket *self, GError **error)
{
  g_set_error (error, SERVE_ERROR, 403,
               "You are not allowed to access this resource: Transfer %s "
               "was canceled",
               self->transfer_id);
  return FALSE;
}

ServeOp *
serve_ticket_begin (ServeTicket *self, guint64 offset, GError **error)
{
  ServeOp *op;

  g_mutex_lock (&self->lock);
  if (self->canceled)
    {
      g_mutex_unlock (&self->lock);
      canceled_error (self, error);
      return NULL;
    }
  op = g_new0 (ServeOp, 1);
  op->offset = offset;
  op->cancellable = g_cancellable_new ();
  g_ptr_array_add (self->ongoing, op);
  g_mutex_unlock (&self->lock);
  return op;
}

void
serve_ticket_add_done (ServeTicket *self, ServeOp *op, guint64 length)
{
  g_mutex_lock (&self->lock);
  op->done += length;
  g_mutex_unlock (&self->lock);
}

/* Adds [start, end) to a sorted list of disjoint ranges, merging. */
static void
ranges_add (GArray *ranges, guint64 start, guint64 end)
{
  guint i = 0;

  if (start >= end)
    return;
  while (i < ranges->len && g_array_index (ranges, guint64, i + 1) < start)
    i += 2;
  while (i < ranges->len && g_array_index (ranges, guint64, i) <= end)
    {
      start = MIN (start, g_array_index (ranges, guint64, i));
      end = MAX (end, g_array_index (ranges, guint64, i + 1));
      g_array_remove_range (ranges, i, 2);
    }
  g_array_insert_val (ranges, i, start);
  g_array_insert_val (ranges, i + 1, end);
}

void
serve_ticket_end (ServeTicket *self, ServeOp *op)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_remove (self->ongoing, op);
  /* A read-write ticket reports no transferred bytes, as in imageio. */
  if (g_strv_length (self->ops) == 1)
    ranges_add (self->completed, op->offset, op->offset + op->done);
  if (self->canceled && self->ongoing->len == 0)
    g_cond_broadcast (&self->unused);
  else if (!self->canceled)
    {
      self->access_time = now_seconds ();
      self->expires = self->access_time + self->timeout;
    }
  g_mutex_unlock (&self->lock);
  g_object_unref (op->cancellable);
  g_free (op);
}

void
serve_ticket_touch (ServeTicket *self)
{
  g_mutex_lock (&self->lock);
  self->access_time = now_seconds ();
  self->expires = self->access_time + self->timeout;
  g_mutex_unlock (&self->lock);
}

void
serve_ticket_extend (ServeTicket *self, guint timeout)
{
  g_mutex_lock (&self->lock);
  self->expires = now_seconds () + timeout;
  g_mutex_unlock (&self->lock);
}

void
serve_ticket_add_connection (ServeTicket *self)
{
  g_mutex_lock (&self->lock);
  self->connections++;
  g_mutex_unlock (&self->lock);
}

void
serve_ticket_remove_connection (ServeTicket *self)
{
  g_mutex_lock (&self->lock);
  self->connections--;
  g_mutex_unlock (&self->lock);
}

gboolean
serve_ticket_cancel (ServeTicket *self, guint timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout * G_USEC_PER_SEC;
  gboolean unused;

  g_mutex_lock (&self->lock);
  self->canceled = TRUE;
  for (guint i = 0; i < self->ongoing->len; i++)
    g_cancellable_cancel (((ServeOp *)self->ongoing->pdata[i])->cancellable);
  while (self->ongoing->len > 0)
    if (!g_cond_wait_until (&self->unused, &self->lock, deadline))
      break;
  unused = self->ongoing->len == 0;
  g_mutex_unlock (&self->lock);
  return unused;
}

static guint64
transferred_locked (ServeTicket *self)
{
  g_autoptr (GArray) ranges = g_array_copy (self->completed);
  guint64 sum = 0;

  for (guint i = 0; i < self->ongoing->len; i++)
    {
      ServeOp *op = self->ongoing->pdata[i];
      ranges_add (ranges, op->offset, op->offset + op->done);
    }
  for (guint i = 0; i < ranges->len; i += 2)
    sum += g_array_index (ranges, guint64, i + 1)
           - g_array_index (ranges, guint64, i);
  return sum;
}

static void
add_int (JsonBuilder *builder, const char *key, gint64 value)
{
  json_builder_set_member_name (builder, key);
  json_builder_add_int_value (builder, value);
}

static void
add_bool (JsonBuilder *builder, const char *key, gboolean value)
{
  json_builder_set_member_name (builder, key);
  json_builder_add_boolean_value (builder, value);
}

static void
add_string (JsonBuilder *builder, const char *key, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (builder, key);
  json_builder_add_string_value (builder, value);
}

JsonNode *
serve_ticket_info (ServeTicket *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  gboolean active;

  g_mutex_lock (&self->lock);
  active = self->ongoing->len > 0;
  json_builder_begin_object (builder);
  add_bool (builder, "active", active);
  add_bool (builder, "canceled", self->canceled);
  add_int (builder, "connections", self->connections);
  add_int (builder, "expires", self->expires);
  add_int (builder, "idle_time",
           active ? 0 : now_seconds () - self->access_time);
  add_int (builder, "inactivity_timeout", self->inactivity_timeout);
  json_builder_set_member_name (builder, "ops");
  json_builder_begin_array (builder);
  for (char **op = self->ops; *op; op++)
    json_builder_add_string_value (builder, *op);
  json_builder_end_array (builder);
  add_int (builder, "size", self->size);
  add_bool (builder, "sparse", self->sparse);
  add_bool (builder, "dirty", self->dirty);
  add_int (builder, "timeout", self->timeout);
  add_string (builder, "url", self->url);
  add_string (builder, "uuid", self->uuid);
  add_string (builder, "transfer_id", self->transfer_id);
  add_string (builder, "filename", self->filename);
  if (g_strv_length (self->ops) == 1)
    add_int (builder, "transferred", transferred_locked (self));
  add_string (builder, "format", self->format);
  add_string (builder, "bitmap", self->bitmap);
  json_builder_end_object (builder);
  g_mutex_unlock (&self->lock);
  return json_builder_get_root (builder);
}
