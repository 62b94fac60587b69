/* imgxfer-imageio-backend.c: images behind an imageio server
 *
 * https://HOST:PORT/images/TICKET (and http:// for a server's local
 * service), as ovirt-imageio's own client reaches it: OPTIONS first, to
 * learn the features and how many clients the ticket takes; then reads
 * with ranged GETs, writes with PUT ?flush=n, zero and flush with PATCH,
 * extents from /extents. A server with no features (an old daemon, or a
 * web server that is not imageio) is still read with ranged GETs, and
 * written with PUTs of zeroes for zero and no flush.
 *
 * Each backend and each clone has one keep-alive connection of its own
 * (imgxfer-imageio-http.c). When the transfer URL cannot be reached at
 * all, the proxy URL is tried, once, at open; never after an HTTP error
 * nor part-way. When the server is on this machine and offers its unix
 * socket, the connections go through it instead of TLS. A request that
 * fails in a way that may pass, OPTIONS and the size query at open too,
 * is sent again on a new connection (imgxfer-imageio-retry.c); but a
 * transfer URL that cannot be reached goes to the proxy URL at once,
 * when there is one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-imageio-backend.h"
#include "imgxfer-imageio-http.h"
#include "imgxfer-imageio-retry.h"

/* For connecting and for each request, unless the options say otherwise:
 * a stalled server fails the copy instead of holding it. imageio's client
 * waits 10 s to connect and 60 s for each read. */
#define DEFAULT_TIMEOUT_S 60
/* How long asking whether the ticket still exists may take, after a
 * request failed. */
#define PROBE_TIMEOUT_S 10
/* The largest request; zero requests are split at it too, so that an
 * empty image is zeroed in a handful of requests. */
#define MAX_REQUEST (1024 * 1024 * 1024)
/* The size of the copy's requests: each one is a round trip to the
 * server, with the connection idle while the server writes. 1 MiB
 * requests took twice as long as 16 MiB ones for an upload through the
 * local socket (a ticket takes one writer); reading with four
 * connections, 4 MiB was as fast as 8 MiB and kept the client at
 * 48 MiB instead of 64. */
#define PREFERRED_WRITE_REQUEST (8 * 1024 * 1024)
#define PREFERRED_READ_REQUEST (4 * 1024 * 1024)

/* The whole image's extents per context: the server gives them all at
 * once, so they are asked once, by whichever connection needs them
 * first, for the backend and its clones (one per copy worker). */
typedef struct
{
  gatomicrefcount refs;
  GMutex lock;
  GArray *lists[2];
} ExtentsCache;

struct _ImgxferImageioBackend
{
  ImgxferBackend parent_instance;

  ImgxferImageioHttp *http;
  ImgxferImageioRetry *retry; /* sends the requests through http */
  ImgxferImageioFeatures features;
  char *transfer_url;    /* the URL answering: the image's or the proxy's */
  char *unix_socket;     /* the server's socket in use, or NULL */
  ExtentsCache *extents; /* shared with the clones */
  /* During a clone's open: the backend it clones. */
  ImgxferImageioBackend *template;
  /* During open: the proxy URL is next if transfer_url cannot be reached. */
  gboolean proxy_pending;
};

static void imgxfer_imageio_backend_source_init (ImgxferSourceInterface *iface);
static void
imgxfer_imageio_backend_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (
    ImgxferImageioBackend, imgxfer_imageio_backend, IMGXFER_TYPE_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE,
                           imgxfer_imageio_backend_source_init)
        G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                               imgxfer_imageio_backend_destination_init))

static const char *
url_of (gpointer self)
{
  return imgxfer_backend_get_url (IMGXFER_BACKEND (self));
}

static gboolean
is_writable (ImgxferImageioBackend *self)
{
  return imgxfer_open_options_get_writable (
      imgxfer_backend_get_options (IMGXFER_BACKEND (self)));
}

static ExtentsCache *
extents_cache_new (void)
{
  ExtentsCache *cache = g_new0 (ExtentsCache, 1);

  g_atomic_ref_count_init (&cache->refs);
  g_mutex_init (&cache->lock);
  return cache;
}

static ExtentsCache *
extents_cache_ref (ExtentsCache *cache)
{
  g_atomic_ref_count_inc (&cache->refs);
  return cache;
}

static void
extents_cache_unref (ExtentsCache *cache)
{
  if (!g_atomic_ref_count_dec (&cache->refs))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cache->lists); i++)
    g_clear_pointer (&cache->lists[i], g_array_unref);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

static ImgxferImageioHttp *
new_http_with_timeout (ImgxferImageioBackend *self, const char *url,
                       const char *unix_socket, guint timeout_s, GError **error)
{
  ImgxferOpenOptions *options
      = imgxfer_backend_get_options (IMGXFER_BACKEND (self));
  ImgxferImageioConnectOptions connect = {
    .ca_file = imgxfer_open_options_get_ca_file (options),
    .insecure = imgxfer_open_options_get_insecure (options),
    .unix_socket = unix_socket,
    .timeout_s = timeout_s,
    .has_fallback = self->proxy_pending,
  };

  return _imgxfer_imageio_http_new (url, url, &connect, error);
}

static guint
timeout_s (ImgxferImageioBackend *self)
{
  guint timeout = imgxfer_open_options_get_timeout (
      imgxfer_backend_get_options (IMGXFER_BACKEND (self)));

  return timeout ? timeout : DEFAULT_TIMEOUT_S;
}

static ImgxferImageioHttp *
new_http (ImgxferImageioBackend *self, const char *url, const char *unix_socket,
          GError **error)
{
  return new_http_with_timeout (self, url, unix_socket, timeout_s (self),
                                error);
}

/* A connection like the one in use, for a request sent again. */
static ImgxferImageioHttp *
reconnect (gpointer data, GError **error)
{
  ImgxferImageioBackend *self = data;

  return new_http (self, self->transfer_url, self->unix_socket, error);
}

static void
start_retries (ImgxferImageioBackend *self)
{
  ImgxferOpenOptions *options
      = imgxfer_backend_get_options (IMGXFER_BACKEND (self));

  self->retry = _imgxfer_imageio_retry_new (
      self->transfer_url, imgxfer_open_options_get_retries (options), reconnect,
      self);
}

/* A server that removes a ticket, or sees it expire, drops the requests
 * in flight: the client sees a connection closed, not why. Asking OPTIONS
 * again on a new connection tells a ticket that is gone (403) from a
 * server that went away (no answer), and the error says which. */
static gboolean
explain_failure (ImgxferImageioBackend *self, GError **error)
{
  g_autoptr (ImgxferImageioHttp) probe = NULL;
  g_autoptr (GError) probe_error = NULL;
  ImgxferImageioFeatures features;
  GError *failure = error ? *error : NULL;

  /* A request that reaches the server while it removes the ticket is
   * answered 403 rather than dropped: the same news. */
  if (g_error_matches (failure, IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED)
      && !strstr (failure->message, "the ticket is gone"))
    {
      *error = g_error_new (IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED,
                            "%s; the ticket is gone", failure->message);
      g_error_free (failure);
      return FALSE;
    }
  if (failure == NULL || failure->domain == IMGXFER_ERROR
      || g_error_matches (failure, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;

  /* A server that stalled may stall the probe too: it waits no longer
   * than a request. */
  probe = new_http_with_timeout (self, self->transfer_url, self->unix_socket,
                                 MIN (PROBE_TIMEOUT_S, timeout_s (self)), NULL);
  if (probe == NULL)
    return FALSE;
  if (_imgxfer_imageio_http_options (probe, &features, NULL, &probe_error))
    {
      _imgxfer_imageio_features_clear (&features);
      return FALSE;
    }
  if (!g_error_matches (probe_error, IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED))
    return FALSE;

  *error = g_error_new (IMGXFER_ERROR, IMGXFER_ERROR_EXPIRED,
                        "%s; the ticket is gone: %s", failure->message,
                        probe_error->message);
  g_error_free (failure);
  return FALSE;
}

/* OPTIONS on @url, sent again as any request; on success the backend
 * talks to @url from now on. */
static gboolean
try_url (ImgxferImageioBackend *self, const char *url, gboolean *unreachable,
         GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferImageioRetry) retry = NULL;

  *unreachable = FALSE;
  g_free (self->transfer_url);
  self->transfer_url = g_strdup (url);
  self->http = new_http (self, url, NULL, error);
  if (self->http == NULL)
    return FALSE;
  retry = _imgxfer_imageio_retry_new (
      url,
      imgxfer_open_options_get_retries (
          imgxfer_backend_get_options (IMGXFER_BACKEND (self))),
      reconnect, self);
  if (_imgxfer_imageio_retry_options (retry, &self->http, &self->features,
                                      cancellable, error))
    return TRUE;
  *unreachable = _imgxfer_imageio_http_unreachable (self->http);
  g_clear_pointer (&self->http, _imgxfer_imageio_http_free);
  return FALSE;
}

/* The proxy URL is for a transfer URL that cannot be reached at all (no
 * name, no route, refused, TLS failed): an HTTP error means the server is
 * there and said no, which the proxy would only repeat. */
static gboolean
reach_server (ImgxferImageioBackend *self, GCancellable *cancellable,
              GError **error)
{
  const char *proxy_url = imgxfer_open_options_get_proxy_url (
      imgxfer_backend_get_options (IMGXFER_BACKEND (self)));
  g_autoptr (GError) local_error = NULL;
  gboolean unreachable;
  gboolean ok;

  self->proxy_pending = proxy_url != NULL;
  ok = try_url (self, url_of (self), &unreachable, cancellable, &local_error);
  self->proxy_pending = FALSE;
  if (ok)
    return TRUE;
  if (proxy_url == NULL || !unreachable)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  g_message ("%s; using the proxy URL %s", local_error->message, proxy_url);
  return try_url (self, proxy_url, &unreachable, cancellable, error);
}

/* imageio's fast path: a client on the server's machine talks plain HTTP
 * through the server's unix socket. Where that fails, TLS goes on. */
static void
use_unix_socket (ImgxferImageioBackend *self, GCancellable *cancellable)
{
  const char *path = self->features.unix_socket;
  g_autoptr (ImgxferImageioHttp) http = NULL;
  g_autoptr (GError) error = NULL;
  ImgxferImageioFeatures features;

  if (path == NULL || !_imgxfer_imageio_http_peer_is_local (self->http))
    return;

  http = new_http (self, self->transfer_url, path, &error);
  if (http == NULL
      || !_imgxfer_imageio_http_options (http, &features, cancellable, &error))
    {
      g_info ("%s: not using the server's unix socket %s: %s", url_of (self),
              path, error->message);
      return;
    }
  _imgxfer_imageio_features_clear (&features);

  g_info ("%s: the server is on this machine: using its unix socket %s",
          url_of (self), path);
  _imgxfer_imageio_http_free (self->http);
  self->http = g_steal_pointer (&http);
  self->unix_socket = g_strdup (path);
}

/* The list stays in the cache, unchanged, as long as the backend. The
 * connections that need it meanwhile wait for the first one's answer. */
static GArray *
get_extents (ImgxferImageioBackend *self, ImgxferExtentContext context,
             GCancellable *cancellable, GError **error)
{
  ExtentsCache *cache = self->extents;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&cache->lock);

  if (cache->lists[context] == NULL)
    cache->lists[context] = _imgxfer_imageio_retry_extents (
        self->retry, &self->http, context, cancellable, error);
  return cache->lists[context];
}

/* Newer servers give the size in OPTIONS; otherwise the extents end
 * there; otherwise the first byte's Content-Range tells. */
static gboolean
find_size (ImgxferImageioBackend *self, guint64 *size,
           GCancellable *cancellable, GError **error)
{
  GArray *extents;

  if (self->features.virtual_size >= 0)
    {
      *size = self->features.virtual_size;
      return TRUE;
    }
  if (!self->features.can_extents)
    return _imgxfer_imageio_retry_get_size (self->retry, &self->http, size,
                                            cancellable, error);

  extents = get_extents (self, IMGXFER_EXTENT_CONTEXT_ZERO, cancellable, error);
  if (extents == NULL)
    return FALSE;
  *size = 0;
  if (extents->len > 0)
    {
      const ImgxferExtent *last
          = &g_array_index (extents, ImgxferExtent, extents->len - 1);
      *size = last->start + last->length;
    }
  return TRUE;
}

static void
declare (ImgxferImageioBackend *self, guint64 size)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  ImgxferImageioFeatures *f = &self->features;
  ImgxferBackendCaps caps = 0;
  gboolean writable = is_writable (self);

  if (writable)
    caps |= IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_MAY_RECONNECT;
  if (writable && f->can_zero)
    caps |= IMGXFER_BACKEND_CAN_ZERO;
  if (writable && f->can_flush)
    caps |= IMGXFER_BACKEND_CAN_FLUSH;
  /* Dirty extents exist only for a ticket made for an incremental
   * backup; the server answers 404 otherwise, reported when asked. */
  if (f->can_extents)
    caps |= IMGXFER_BACKEND_CAN_EXTENTS | IMGXFER_BACKEND_CAN_DIRTY;

  imgxfer_backend_set_size (backend, size);
  imgxfer_backend_set_caps (backend, caps);
  imgxfer_backend_set_block_sizes (
      backend, 1, writable ? PREFERRED_WRITE_REQUEST : PREFERRED_READ_REQUEST,
      MAX_REQUEST);
  imgxfer_backend_set_max_connections (backend, writable ? f->max_writers
                                                         : f->max_readers);
}

/* An imageio server lists zero and flush for tickets that allow writing:
 * one that lists features without them serves a read-only ticket. */
static gboolean
check_writable_ticket (ImgxferImageioBackend *self, GError **error)
{
  ImgxferImageioFeatures *f = &self->features;

  if (!is_writable (self) || !f->can_extents || f->can_zero || f->can_flush)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
               "%s: the ticket does not allow writing", url_of (self));
  return FALSE;
}

/* A clone talks to the server the way its template found, without asking
 * again. */
static gboolean
open_clone (ImgxferImageioBackend *self, GError **error)
{
  ImgxferImageioBackend *template = self->template;
  ImgxferBackend *backend = IMGXFER_BACKEND (template);
  guint32 minimum, preferred, maximum;

  self->http
      = new_http (self, template->transfer_url, template->unix_socket, error);
  if (self->http == NULL)
    return FALSE;
  self->features = template->features;
  self->features.unix_socket = g_strdup (template->features.unix_socket);
  self->transfer_url = g_strdup (template->transfer_url);
  self->unix_socket = g_strdup (template->unix_socket);
  start_retries (self);
  extents_cache_unref (self->extents);
  self->extents = extents_cache_ref (template->extents);

  imgxfer_backend_set_size (IMGXFER_BACKEND (self),
                            imgxfer_backend_get_size (backend));
  imgxfer_backend_set_caps (IMGXFER_BACKEND (self),
                            imgxfer_backend_get_caps (backend));
  imgxfer_backend_get_block_sizes (backend, &minimum, &preferred, &maximum);
  imgxfer_backend_set_block_sizes (IMGXFER_BACKEND (self), minimum, preferred,
                                   maximum);
  imgxfer_backend_set_max_connections (
      IMGXFER_BACKEND (self), imgxfer_backend_get_max_connections (backend));
  return TRUE;
}

static gboolean
imgxfer_imageio_backend_open (ImgxferBackend *backend,
                              GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (backend);
  guint64 size;

  if (self->template)
    return open_clone (self, error);

  if (!reach_server (self, cancellable, error)
      || !check_writable_ticket (self, error))
    return FALSE;
  use_unix_socket (self, cancellable);
  start_retries (self);
  if (!find_size (self, &size, cancellable, error))
    return FALSE;
  declare (self, size);
  return TRUE;
}

static ImgxferBackend *
imgxfer_imageio_backend_clone (ImgxferBackend *backend,
                               GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferImageioBackend) clone = NULL;

  clone = g_object_new (IMGXFER_TYPE_IMAGEIO_BACKEND, "url",
                        imgxfer_backend_get_url (backend), "options",
                        imgxfer_backend_get_options (backend), NULL);
  clone->template = IMGXFER_IMAGEIO_BACKEND (backend);
  if (!g_initable_init (G_INITABLE (clone), cancellable, error))
    return NULL;
  clone->template = NULL;
  return IMGXFER_BACKEND (g_steal_pointer (&clone));
}

static gboolean
imgxfer_imageio_backend_pread (ImgxferSource *source, void *buffer,
                               gsize length, guint64 offset,
                               GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (source);

  return _imgxfer_imageio_retry_get (self->retry, &self->http, buffer, length,
                                     offset, cancellable, error)
         || explain_failure (self, error);
}

/* The first extent that ends after @offset. */
static guint
find_extent (GArray *extents, guint64 offset)
{
  guint low = 0, high = extents->len;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, mid);

      if (e->start + e->length <= offset)
        low = mid + 1;
      else
        high = mid;
    }
  return low;
}

/* The server gives all of the image's extents at once; each request is
 * answered from that list. */
static gboolean
imgxfer_imageio_backend_extents (ImgxferSource *source,
                                 ImgxferExtentContext context, guint64 offset,
                                 guint64 length, GArray *extents,
                                 GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (source);
  GArray *all = get_extents (self, context, cancellable, error);
  guint i;

  if (all == NULL)
    return FALSE;
  i = find_extent (all, offset);
  if (i == all->len)
    {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "%s: the server's extents end before offset %" G_GUINT64_FORMAT,
          url_of (self), offset);
      return FALSE;
    }

  for (; i < all->len; i++)
    {
      const ImgxferExtent *e = &g_array_index (all, ImgxferExtent, i);
      guint64 start = MAX (e->start, offset);
      guint64 end = e->start + e->length;

      imgxfer_extents_append (extents, start, end - start, e->flags);
      if (end >= offset + length)
        break;
    }
  return TRUE;
}

static void
imgxfer_imageio_backend_source_init (ImgxferSourceInterface *iface)
{
  iface->pread = imgxfer_imageio_backend_pread;
  iface->extents = imgxfer_imageio_backend_extents;
}

/* With flush, the server flushes only when asked to (PATCH flush, once
 * per connection at the end); without it, after every request. */
static gboolean
imgxfer_imageio_backend_pwrite (ImgxferDestination *destination,
                                const void *buffer, gsize length,
                                guint64 offset, GCancellable *cancellable,
                                GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (destination);

  return _imgxfer_imageio_retry_put (self->retry, &self->http, buffer, length,
                                     offset, !self->features.can_flush,
                                     cancellable, error)
         || explain_failure (self, error);
}

static gboolean
imgxfer_imageio_backend_zero (ImgxferDestination *destination, guint64 offset,
                              guint64 length, ImgxferZeroFlags flags,
                              GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (destination);

  return _imgxfer_imageio_retry_zero (self->retry, &self->http, offset, length,
                                      !self->features.can_flush, cancellable,
                                      error)
         || explain_failure (self, error);
}

static gboolean
imgxfer_imageio_backend_flush (ImgxferDestination *destination,
                               GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (destination);

  return _imgxfer_imageio_retry_flush (self->retry, &self->http, cancellable,
                                       error)
         || explain_failure (self, error);
}

static void
imgxfer_imageio_backend_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = imgxfer_imageio_backend_pwrite;
  iface->zero = imgxfer_imageio_backend_zero;
  iface->flush = imgxfer_imageio_backend_flush;
}

/* The server's own checksum, when it offers one for this algorithm and
 * block size: the image is not read through the connection at all. */
static char *
imgxfer_imageio_backend_checksum (ImgxferBackend *backend,
                                  const char *algorithm, gsize block_size,
                                  GCancellable *cancellable, GError **error)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (backend);
  g_autoptr (JsonNode) answer = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!self->features.can_checksum)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: the server computes no checksums", url_of (self));
      return NULL;
    }
  answer
      = _imgxfer_imageio_retry_checksum (self->retry, &self->http, algorithm,
                                         block_size, cancellable, &local_error);
  /* 400: an algorithm or block size the server does not take. */
  if (answer == NULL
      && g_error_matches (local_error, IMGXFER_ERROR,
                          IMGXFER_ERROR_INVALID_ARGUMENT))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s",
                   local_error->message);
      return NULL;
    }
  if (answer == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return _imgxfer_imageio_read_checksum (answer, algorithm, block_size,
                                         url_of (self), error);
}

/* Ends the keep-alive connection now, from the thread that closes,
 * rather than whenever the last reference goes. Every write was sent
 * and answered, and imgxfer_backend_close() has flushed when asked:
 * nothing is left to report. */
static gboolean
imgxfer_imageio_backend_close (ImgxferBackend *backend,
                               GCancellable *cancellable, GError **error)
{
  g_clear_pointer (&IMGXFER_IMAGEIO_BACKEND (backend)->http,
                   _imgxfer_imageio_http_free);
  return TRUE;
}

static void
imgxfer_imageio_backend_finalize (GObject *object)
{
  ImgxferImageioBackend *self = IMGXFER_IMAGEIO_BACKEND (object);

  g_clear_pointer (&self->retry, _imgxfer_imageio_retry_free);
  g_clear_pointer (&self->http, _imgxfer_imageio_http_free);
  _imgxfer_imageio_features_clear (&self->features);
  g_clear_pointer (&self->extents, extents_cache_unref);
  g_free (self->transfer_url);
  g_free (self->unix_socket);

  G_OBJECT_CLASS (imgxfer_imageio_backend_parent_class)->finalize (object);
}

static const char *const imageio_schemes[] = { "https", "http", NULL };

static void
imgxfer_imageio_backend_class_init (ImgxferImageioBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  object_class->finalize = imgxfer_imageio_backend_finalize;

  backend_class->name = "imageio";
  backend_class->description
      = "Images behind imageio servers, and web servers (libsoup)";
  backend_class->schemes = imageio_schemes;
  backend_class->open = imgxfer_imageio_backend_open;
  backend_class->clone = imgxfer_imageio_backend_clone;
  backend_class->close = imgxfer_imageio_backend_close;
  backend_class->checksum = imgxfer_imageio_backend_checksum;
}

static void
imgxfer_imageio_backend_init (ImgxferImageioBackend *self)
{
  self->extents = extents_cache_new ();
}
