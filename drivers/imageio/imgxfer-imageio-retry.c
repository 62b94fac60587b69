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
 * connection once in a while and at the end; a write acknowledged on a
 * connection that then broke is durable only if the server that took it
 * still holds it when a flush comes. A flush on the new connection does
 * not make it so: the server may have restarted in between (a daemon
 * killed, and its qemu-nbd with the qcow2 tables it had in memory), and a
 * restarted server flushes what it has, not what its predecessor lost.
 * Keeping a copy of each write here until a flush covers it would cost a
 * copy of every byte uploaded and a flush every few writes. The caller
 * knows what it wrote, and where to read it again: a request that
 * replaces a connection on which writes were acknowledged since the last
 * flush is not sent, and fails with IMGXFER_ERROR_RECONNECTED; the
 * caller writes those writes again, then sends the request again (the
 * copy engine does so). The retries made so far carry over to those
 * requests, so that the pauses keep growing and their number stays
 * bounded while the server is away.
 *
 * libsoup replaces a connection by itself too: a request that finds its
 * kept-alive connection closed goes once more on a new one, silently (a
 * daemon restarted between two requests), and a request from another
 * thread gets a session, and a connection, of its own. The connections
 * each http made are counted, and a request that succeeded on another
 * connection than the one that took the writes not flushed yet fails
 * with IMGXFER_ERROR_RECONNECTED as well (it is sent again after them: a
 * flush made meanwhile covered nothing of theirs).
 *
 * A server without flush takes each PUT with ?flush=y, durable when
 * answered: nothing is left unflushed then.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-imageio-retry.h"

#include "../common/imgxfer-retry.h"

struct _ImgxferImageioRetry
{
  char *url;
  guint retries;
  ImgxferImageioConnectFunc connect;
  gpointer connect_data;

  /* A write was acknowledged without a flush since the last flush, on
   * the connection of the http counted written_on
   * (_imgxfer_imageio_http_connections()). */
  gboolean unflushed;
  guint written_on;
  /* Retries in a row: back to 0 when a request succeeds. */
  guint failures;
};

ImgxferImageioRetry *
_imgxfer_imageio_retry_new (const char *url, guint retries,
                            ImgxferImageioConnectFunc connect,
                            gpointer connect_data)
{
  ImgxferImageioRetry *self = g_new0 (ImgxferImageioRetry, 1);

  self->url = g_strdup (url);
  self->retries = retries;
  self->connect = connect;
  self->connect_data = connect_data;
  return self;
}

void
_imgxfer_imageio_retry_free (ImgxferImageioRetry *self)
{
  if (self == NULL)
    return;
  g_free (self->url);
  g_free (self);
}

/* The writes not flushed yet are the caller's to send again: from now
 * on the new connection holds none. */
static gboolean
writes_lost (ImgxferImageioRetry *self, GError **error)
{
  self->unflushed = FALSE;
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED,
               "%s: the connection to the server was replaced, and writes "
               "not flushed on the old one may be lost",
               self->url);
  return FALSE;
}

/* After a request that succeeded: on the connection that holds the
 * writes not flushed yet, if any. */
static gboolean
check_connection (ImgxferImageioRetry *self, ImgxferImageioHttp *http,
                  GError **error)
{
  if (self->unflushed
      && _imgxfer_imageio_http_connections (http) != self->written_on)
    return writes_lost (self, error);
  return TRUE;
}

/* Replaces *@http with a new connection. A failure to make one at all (a
 * CA file gone) is not retried. */
static gboolean
reconnect (ImgxferImageioRetry *self, ImgxferImageioHttp **http, GError **error)
{
  ImgxferImageioHttp *fresh = self->connect (self->connect_data, error);

  if (fresh == NULL)
    return FALSE;
  _imgxfer_imageio_http_free (*http);
  *http = fresh;
  return TRUE;
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

/* Gives @request up: as it failed when that cannot pass, else after the
 * retries. */
static gboolean
give_up (ImgxferImageioRetry *self, gboolean transient, GError **first,
         GError **last, const char *why, GError **error)
{
  if (transient && self->failures > 0)
    g_propagate_error (error, exhausted_error (*first ? *first : *last, *last,
                                               self->failures, why));
  else
    g_propagate_error (error, g_steal_pointer (last));
  self->failures = 0;
  return FALSE;
}

/* Sends a request by @func until it succeeds, fails in a way that does
 * not pass, or the retries are spent; or until it is found that writes
 * not flushed yet may be lost (see the top). @request says what it is in
 * the log. */
static gboolean
send_request (ImgxferImageioRetry *self, ImgxferImageioHttp **http,
              const char *request, RequestFunc func, gpointer args,
              GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) first_error = NULL;

  for (;;)
    {
      g_autoptr (GError) last_error = NULL;
      g_autofree char *reason = NULL;
      const char *why = "";
      gboolean transient;

      if (func (*http, args, cancellable, &last_error))
        {
          self->failures = 0;
          return check_connection (self, *http, error);
        }
      transient = _imgxfer_imageio_http_transient (*http, &why);
      if (!transient || self->failures >= self->retries)
        return give_up (self, transient, &first_error, &last_error, why, error);
      if (first_error == NULL)
        first_error = g_steal_pointer (&last_error);
      /* The next request replaces the connection, and with it why. */
      reason = g_strdup (why);
      self->failures++;
      if (!_imgxfer_retry_wait (request, reason, self->failures, self->retries,
                                cancellable, error)
          || !reconnect (self, http, error))
        {
          self->failures = 0;
          return FALSE;
        }
      if (self->unflushed)
        return writes_lost (self, error);
    }
}

/* A write answered without a flush: durable at the next flush on this
 * connection. */
static void
note_unflushed (ImgxferImageioRetry *self, ImgxferImageioHttp *http)
{
  if (self->unflushed)
    return;
  self->unflushed = TRUE;
  self->written_on = _imgxfer_imageio_http_connections (http);
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

  if (!send_request (self, http, request, flush, NULL, cancellable, error))
    return FALSE;
  self->unflushed = FALSE;
  return TRUE;
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

  if (!send_request (self, http, request, put, &args, cancellable, error))
    return FALSE;
  if (!flush)
    note_unflushed (self, *http);
  return TRUE;
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

  if (!send_request (self, http, request, zero, &args, cancellable, error))
    return FALSE;
  if (!flush)
    note_unflushed (self, *http);
  return TRUE;
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

static gboolean
get_size (ImgxferImageioHttp *http, gpointer size, GCancellable *cancellable,
          GError **error)
{
  return _imgxfer_imageio_http_get_size (http, size, cancellable, error);
}

gboolean
_imgxfer_imageio_retry_get_size (ImgxferImageioRetry *self,
                                 ImgxferImageioHttp **http, guint64 *size,
                                 GCancellable *cancellable, GError **error)
{
  g_autofree char *request = describe (self, "GET", 0, 1);

  return send_request (self, http, request, get_size, size, cancellable, error);
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
