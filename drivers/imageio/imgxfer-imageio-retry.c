/* imgxfer-imageio-retry.c: imageio requests sent again on a new
 * connection when they failed in a way that may pass
 *
 * Every request of the imageio protocol may be sent twice with the same
 * result: a GET or a PUT of a range, a PATCH zero of a range, a flush,
 * OPTIONS, extents, a checksum. A request that failed with no answer, a
 * cut answer or a "not now" status (imgxfer-imageio-http.c says which) is
 * sent again on a new connection, after a pause, a bounded number of
 * times; the connection it failed on is dropped, since libsoup may have
 * left it in any state.
 *
 * Writes need more. The copy sends them with ?flush=n and flushes each
 * connection once at the end; a write acknowledged on a connection that
 * then broke is durable only if the server that took it still holds it
 * when a flush comes. A flush on the new connection does not make it so:
 * the server may have restarted in between (a daemon killed, and its
 * qemu-nbd with the qcow2 tables it had in memory), and a restarted
 * server flushes what it has, not what its predecessor lost. So each
 * write is kept here until a flush on its connection succeeds, and the
 * writes kept are sent again on the new connection, in their order,
 * before the failed request. The end's flush then covers every write the
 * copy was told succeeded, whatever happened to the server in between.
 * Sending a write again is harmless because the copy writes each range
 * once, from one connection: nothing newer can be under it.
 *
 * libsoup replaces a connection by itself too: a request that finds its
 * kept-alive connection closed goes once more on a new one, silently (a
 * daemon restarted between two requests), and a request from another
 * thread gets a session, and a connection, of its own. The connections
 * each request made are counted, and when the one in use is not the one
 * that took the writes kept, they are sent again as after a failure (and a
 * flush made meanwhile is made again).
 *
 * What is kept is bounded: once KEEP_MAX bytes of data are kept, the
 * connection is flushed and they are dropped. Zero requests are kept as
 * ranges, without data. A server without flush takes each PUT with
 * ?flush=y, durable when answered: nothing is kept then.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-imageio-retry.h"

#include "../common/imgxfer-retry.h"

/* Four of the copy's 8 MiB writes between flushes: a flush costs the
 * server a sync of what it wrote, so not much more often than that. */
#define KEEP_MAX (32 * 1024 * 1024)
/* How many times in a row the writes kept follow a new connection. */
#define FOLLOW_MAX 3

typedef struct
{
  guint64 offset;
  guint64 length;
  GBytes *data; /* NULL: a zero request */
} KeptWrite;

struct _ImgxferImageioRetry
{
  char *url;
  guint retries;
  gboolean keep_writes;
  ImgxferImageioConnectFunc connect;
  gpointer connect_data;

  GArray *kept; /* KeptWrite, oldest first */
  gsize kept_bytes;
  /* The connection of the http that holds the writes kept, by its count
   * (_imgxfer_imageio_http_connections()); and whether they were sent
   * again on another one by the last request. */
  guint kept_connection;
  gboolean kept_sent_again;
};

static void
kept_write_clear (KeptWrite *kept)
{
  g_clear_pointer (&kept->data, g_bytes_unref);
}

ImgxferImageioRetry *
_imgxfer_imageio_retry_new (const char *url, guint retries,
                            gboolean keep_writes,
                            ImgxferImageioConnectFunc connect,
                            gpointer connect_data)
{
  ImgxferImageioRetry *self = g_new0 (ImgxferImageioRetry, 1);

  self->url = g_strdup (url);
  self->retries = retries;
  /* Nothing needs keeping when nothing is sent again. */
  self->keep_writes = keep_writes && retries > 0;
  self->connect = connect;
  self->connect_data = connect_data;
  self->kept = g_array_new (FALSE, FALSE, sizeof (KeptWrite));
  g_array_set_clear_func (self->kept, (GDestroyNotify)kept_write_clear);
  return self;
}

void
_imgxfer_imageio_retry_free (ImgxferImageioRetry *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->kept);
  g_free (self->url);
  g_free (self);
}

static void
forget_writes (ImgxferImageioRetry *self)
{
  g_array_set_size (self->kept, 0);
  self->kept_bytes = 0;
}

/* The writes kept, sent again on a new connection. */
static gboolean
send_kept_writes (ImgxferImageioRetry *self, ImgxferImageioHttp *http,
                  GCancellable *cancellable, GError **error)
{
  for (guint i = 0; i < self->kept->len; i++)
    {
      const KeptWrite *kept = &g_array_index (self->kept, KeptWrite, i);
      gboolean ok;

      if (kept->data)
        ok = _imgxfer_imageio_http_put (
            http, g_bytes_get_data (kept->data, NULL), kept->length,
            kept->offset, FALSE, cancellable, error);
      else
        ok = _imgxfer_imageio_http_zero (http, kept->offset, kept->length,
                                         FALSE, cancellable, error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* Replaces *@http with a new connection carrying the writes kept. A
 * failure to make one at all (a CA file gone) is not retried. */
static gboolean
reconnect (ImgxferImageioRetry *self, ImgxferImageioHttp **http,
           gboolean *transient, GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferImageioHttp) fresh
      = self->connect (self->connect_data, error);
  const char *reason;

  *transient = FALSE;
  if (fresh == NULL)
    return FALSE;
  g_clear_pointer (http, _imgxfer_imageio_http_free);
  *http = g_steal_pointer (&fresh);
  if (send_kept_writes (self, *http, cancellable, error))
    {
      /* All on the first connection of the new http, or not all on one:
       * then they go again after the request. */
      self->kept_connection
          = _imgxfer_imageio_http_connections (*http) <= 1 ? 1 : 0;
      return TRUE;
    }
  *transient = _imgxfer_imageio_http_transient (*http, &reason);
  return FALSE;
}

/* After a request that succeeded: the writes kept go again when libsoup
 * put the request on another connection than theirs. */
static gboolean
follow_connection (ImgxferImageioRetry *self, ImgxferImageioHttp *http,
                   GCancellable *cancellable, GError **error)
{
  for (guint times = 0;; times++)
    {
      guint current = _imgxfer_imageio_http_connections (http);

      if (self->kept->len == 0 || current == self->kept_connection)
        {
          self->kept_connection = current;
          return TRUE;
        }
      if (times == FOLLOW_MAX)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "%s: the server keeps closing the connection",
                       self->url);
          return FALSE;
        }
      /* Equal at the next turn if they all went on this one. */
      if (!send_kept_writes (self, http, cancellable, error))
        return FALSE;
      self->kept_connection = current;
      self->kept_sent_again = TRUE;
    }
}

typedef gboolean (*RequestFunc) (ImgxferImageioHttp *http, gpointer args,
                                 GCancellable *cancellable, GError **error);

/* The error of a request that failed again and again: the first one's
 * message, which names the request, and why the last retry failed, with
 * the last one's code (a ticket gone after all is still one). */
static GError *
exhausted_error (GError *first, GError *last, guint retries, const char *why)
{
  return g_error_new (last->domain, last->code,
                      "%s; %u %s failed, the last with: %s", first->message,
                      retries, retries == 1 ? "retry" : "retries", why);
}

/* Sends a request by @func until it succeeds, fails in a way that does
 * not pass, or has been sent 1 + retries times. @request says what it is
 * in the log. A failure that does not pass is reported as it is. */
static gboolean
send_request (ImgxferImageioRetry *self, ImgxferImageioHttp **http,
              const char *request, RequestFunc func, gpointer args,
              GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) first_error = NULL;
  g_autoptr (GError) last_error = NULL;

  for (guint attempt = 0;; attempt++)
    {
      g_autofree char *reason = NULL;
      const char *why = "";
      gboolean transient = TRUE;

      g_clear_error (&last_error);
      if (attempt == 0
          || reconnect (self, http, &transient, cancellable, &last_error))
        {
          if (func (*http, args, cancellable, &last_error)
              && follow_connection (self, *http, cancellable, &last_error))
            return TRUE;
          transient = _imgxfer_imageio_http_transient (*http, &why);
        }
      else if (transient)
        _imgxfer_imageio_http_transient (*http, &why);

      if (attempt == 0)
        first_error = g_error_copy (last_error);
      if (transient && attempt > 0 && attempt == self->retries)
        {
          g_propagate_error (
              error, exhausted_error (first_error, last_error, attempt, why));
          return FALSE;
        }
      if (!transient || attempt >= self->retries)
        break;
      /* The next request replaces the connection, and with it why. */
      reason = g_strdup (why);
      if (!_imgxfer_retry_wait (request, reason, attempt + 1, self->retries,
                                cancellable, error))
        return FALSE;
    }
  g_propagate_error (error, g_steal_pointer (&last_error));
  return FALSE;
}

static char *
describe (ImgxferImageioRetry *self, const char *method, guint64 offset,
          guint64 length)
{
  return g_strdup_printf ("%s %s bytes %" G_GUINT64_FORMAT
                          "-%" G_GUINT64_FORMAT,
                          method, self->url, offset, offset + length - 1);
}

typedef struct
{
  void *buffer;
  gsize length;
  guint64 offset;
  gboolean flush;
  ImgxferExtentContext context;
  GArray *extents;
} Args;

static gboolean
get (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
     GError **error)
{
  Args *args = data;

  return _imgxfer_imageio_http_get (http, args->buffer, args->length,
                                    args->offset, cancellable, error);
}

gboolean
_imgxfer_imageio_retry_get (ImgxferImageioRetry *self,
                            ImgxferImageioHttp **http, void *buffer,
                            gsize length, guint64 offset,
                            GCancellable *cancellable, GError **error)
{
  Args args = { .buffer = buffer, .length = length, .offset = offset };
  g_autofree char *request = describe (self, "GET", offset, length);

  return send_request (self, http, request, get, &args, cancellable, error);
}

static gboolean
flush (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
       GError **error)
{
  return _imgxfer_imageio_http_flush (http, cancellable, error);
}

gboolean
_imgxfer_imageio_retry_flush (ImgxferImageioRetry *self,
                              ImgxferImageioHttp **http,
                              GCancellable *cancellable, GError **error)
{
  g_autofree char *request = g_strdup_printf ("PATCH flush %s", self->url);

  /* A flush covers the writes kept only on their connection. */
  for (guint times = 0;; times++)
    {
      self->kept_sent_again = FALSE;
      if (!send_request (self, http, request, flush, NULL, cancellable, error))
        return FALSE;
      if (!self->kept_sent_again)
        break;
      if (times == FOLLOW_MAX)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "%s: the server keeps closing the connection",
                       self->url);
          return FALSE;
        }
    }
  forget_writes (self);
  return TRUE;
}

/* Keeps a write (@data, or zeroes when NULL) that no flush covers yet;
 * flushes once too much is kept. */
static gboolean
keep_write (ImgxferImageioRetry *self, ImgxferImageioHttp **http,
            const void *data, guint64 length, guint64 offset,
            GCancellable *cancellable, GError **error)
{
  KeptWrite kept = { .offset = offset, .length = length };

  if (!self->keep_writes)
    return TRUE;
  if (data)
    {
      kept.data = g_bytes_new (data, length);
      self->kept_bytes += length;
    }
  g_array_append_val (self->kept, kept);
  if (self->kept_bytes < KEEP_MAX)
    return TRUE;
  return _imgxfer_imageio_retry_flush (self, http, cancellable, error);
}

static gboolean
put (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
     GError **error)
{
  Args *args = data;

  return _imgxfer_imageio_http_put (http, args->buffer, args->length,
                                    args->offset, args->flush, cancellable,
                                    error);
}

gboolean
_imgxfer_imageio_retry_put (ImgxferImageioRetry *self,
                            ImgxferImageioHttp **http, const void *buffer,
                            gsize length, guint64 offset, gboolean flush,
                            GCancellable *cancellable, GError **error)
{
  Args args = {
    .buffer = (void *)buffer, .length = length, .offset = offset, .flush = flush
  };
  g_autofree char *request = describe (self, "PUT", offset, length);

  return send_request (self, http, request, put, &args, cancellable, error)
         && (flush
             || keep_write (self, http, buffer, length, offset, cancellable,
                            error));
}

static gboolean
zero (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
      GError **error)
{
  Args *args = data;

  return _imgxfer_imageio_http_zero (http, args->offset, args->length,
                                     args->flush, cancellable, error);
}

gboolean
_imgxfer_imageio_retry_zero (ImgxferImageioRetry *self,
                             ImgxferImageioHttp **http, guint64 offset,
                             guint64 length, gboolean flush,
                             GCancellable *cancellable, GError **error)
{
  Args args = { .length = length, .offset = offset, .flush = flush };
  g_autofree char *request = describe (self, "PATCH zero", offset, length);

  return send_request (self, http, request, zero, &args, cancellable, error)
         && (flush
             || keep_write (self, http, NULL, length, offset, cancellable,
                            error));
}

static gboolean
extents (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
         GError **error)
{
  Args *args = data;

  args->extents
      = _imgxfer_imageio_http_extents (http, args->context, cancellable, error);
  return args->extents != NULL;
}

GArray *
_imgxfer_imageio_retry_extents (ImgxferImageioRetry *self,
                                ImgxferImageioHttp **http,
                                ImgxferExtentContext context,
                                GCancellable *cancellable, GError **error)
{
  Args args = { .context = context };
  g_autofree char *request = g_strdup_printf ("GET %s/extents", self->url);

  if (!send_request (self, http, request, extents, &args, cancellable, error))
    return NULL;
  return args.extents;
}

static gboolean
options (ImgxferImageioHttp *http, gpointer features, GCancellable *cancellable,
         GError **error)
{
  return _imgxfer_imageio_http_options (http, features, cancellable, error);
}

gboolean
_imgxfer_imageio_retry_options (ImgxferImageioRetry *self,
                                ImgxferImageioHttp **http,
                                ImgxferImageioFeatures *features,
                                GCancellable *cancellable, GError **error)
{
  g_autofree char *request = g_strdup_printf ("OPTIONS %s", self->url);

  return send_request (self, http, request, options, features, cancellable,
                       error);
}

typedef struct
{
  const char *algorithm;
  gsize block_size;
  JsonNode *answer;
} ChecksumArgs;

static gboolean
checksum (ImgxferImageioHttp *http, gpointer data, GCancellable *cancellable,
          GError **error)
{
  ChecksumArgs *args = data;

  /* An answer of an earlier try whose connection was then lost. */
  g_clear_pointer (&args->answer, json_node_unref);
  args->answer = _imgxfer_imageio_http_checksum (
      http, args->algorithm, args->block_size, cancellable, error);
  return args->answer != NULL;
}

JsonNode *
_imgxfer_imageio_retry_checksum (ImgxferImageioRetry *self,
                                 ImgxferImageioHttp **http,
                                 const char *algorithm, gsize block_size,
                                 GCancellable *cancellable, GError **error)
{
  ChecksumArgs args = { .algorithm = algorithm, .block_size = block_size };
  g_autofree char *request = g_strdup_printf ("GET %s/checksum", self->url);

  if (!send_request (self, http, request, checksum, &args, cancellable, error))
    g_clear_pointer (&args.answer, json_node_unref);
  return args.answer;
}
