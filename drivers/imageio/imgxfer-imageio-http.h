/* imgxfer-imageio-http.h: the imageio protocol over one HTTP connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

typedef struct _ImgxferImageioHttp ImgxferImageioHttp;

/* What OPTIONS /images/TICKET said. A server that does not answer it
 * (405, 204, 501) or answers without JSON has no features at all. */
typedef struct
{
  gboolean can_zero;
  gboolean can_flush;
  gboolean can_extents;
  gboolean can_checksum;
  guint max_readers;
  guint max_writers;
  char *unix_socket;   /* a path; NULL when not offered or abstract */
  gint64 virtual_size; /* -1 when not given */
} ImgxferImageioFeatures;

void _imgxfer_imageio_features_clear (ImgxferImageioFeatures *features);

/* The parsers of the server's JSON answers, kept apart from the requests
 * so that fuzz/fuzz-imageio.c reaches them: the features of an OPTIONS
 * answer, the extents of GET /extents, and the checksum of GET /checksum
 * when it is the one asked for (errors name @name). */
void _imgxfer_imageio_read_features (JsonObject *object,
                                     ImgxferImageioFeatures *features);
GArray *_imgxfer_imageio_read_extents (JsonNode *root,
                                       ImgxferExtentContext context,
                                       const char *name, GError **error);
char *_imgxfer_imageio_read_checksum (JsonNode *root, const char *algorithm,
                                      gsize block_size, const char *name,
                                      GError **error);

/* How a connection reaches the server and trusts it. */
typedef struct
{
  const char *ca_file;     /* NULL: the system's CAs */
  gboolean insecure;       /* no certificate verification */
  const char *unix_socket; /* plain HTTP through this socket instead */
  guint timeout_s;         /* connecting and each request */
  /* Another URL is tried when this one cannot be reached: not reaching
   * it is then no failure that may pass. */
  gboolean has_fallback;
} ImgxferImageioConnectOptions;

/* One keep-alive connection to @url (http(s)://HOST:PORT/images/TICKET or
 * any URL of a web server), opened at the first request. Its SoupSession
 * is made by the thread that sends the first request and used by that
 * thread alone: a request from another thread gets a session of its own.
 * Errors name @name (the URL the user gave). */
ImgxferImageioHttp *
_imgxfer_imageio_http_new (const char *url, const char *name,
                           const ImgxferImageioConnectOptions *options,
                           GError **error);
void _imgxfer_imageio_http_free (ImgxferImageioHttp *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferImageioHttp, _imgxfer_imageio_http_free)

/* TRUE when the last request failed without an answer, and no
 * connection to the server was ever ready: it could not be reached
 * (name resolution, connection, TLS handshake). A connection made, then
 * cut before an answer, is a server reached. */
gboolean _imgxfer_imageio_http_unreachable (ImgxferImageioHttp *self);

/* How many connections to the server were made so far. libsoup makes a
 * new one by itself, and sends the request again on it, when the one
 * kept alive turns out closed; so does a request from another thread. */
guint _imgxfer_imageio_http_connections (ImgxferImageioHttp *self);

/* TRUE when the last request failed in a way that may pass if it is
 * sent again on a new connection: no answer at all (refused, reset,
 * closed; not a refused certificate, a timeout, a host name that does
 * not exist, nor a server not reached when the connection has a
 * fallback), an answer cut short, or
 * a status that says "not now" (408, 429, 502, 503, 504). @reason: why,
 * without the URL, valid until the next request. */
gboolean _imgxfer_imageio_http_transient (ImgxferImageioHttp *self,
                                          const char **reason);

/* Whether the server answered from an address of this machine (the
 * connection must have been used). */
gboolean _imgxfer_imageio_http_peer_is_local (ImgxferImageioHttp *self);

gboolean _imgxfer_imageio_http_options (ImgxferImageioHttp *self,
                                        ImgxferImageioFeatures *features,
                                        GCancellable *cancellable,
                                        GError **error);

/* GET with Range: exactly @length bytes at @offset. */
gboolean _imgxfer_imageio_http_get (ImgxferImageioHttp *self, void *buffer,
                                    gsize length, guint64 offset,
                                    GCancellable *cancellable, GError **error);

/* The size of the whole image from a GET without Range, whose body is
 * not read (the connection is closed): for servers that say nothing
 * else. */
gboolean _imgxfer_imageio_http_get_size (ImgxferImageioHttp *self,
                                         guint64 *size,
                                         GCancellable *cancellable,
                                         GError **error);

/* PUT[?flush=n] with Content-Range, the body sent from @buffer itself. */
gboolean _imgxfer_imageio_http_put (ImgxferImageioHttp *self,
                                    const void *buffer, gsize length,
                                    guint64 offset, gboolean flush,
                                    GCancellable *cancellable, GError **error);

/* PATCH {"op":"zero"} / {"op":"flush"}. */
gboolean _imgxfer_imageio_http_zero (ImgxferImageioHttp *self, guint64 offset,
                                     guint64 length, gboolean flush,
                                     GCancellable *cancellable, GError **error);
gboolean _imgxfer_imageio_http_flush (ImgxferImageioHttp *self,
                                      GCancellable *cancellable,
                                      GError **error);

/* GET /extents?context=zero|dirty: every extent of the image, with the
 * server's "hole" as IMGXFER_EXTENT_HOLE. */
GArray *_imgxfer_imageio_http_extents (ImgxferImageioHttp *self,
                                       ImgxferExtentContext context,
                                       GCancellable *cancellable,
                                       GError **error);

/* GET /checksum?algorithm=&block_size= (0: the server's default): the
 * server's answer {"algorithm","block_size","checksum"}. */
JsonNode *_imgxfer_imageio_http_checksum (ImgxferImageioHttp *self,
                                          const char *algorithm,
                                          gsize block_size,
                                          GCancellable *cancellable,
                                          GError **error);

G_END_DECLS
