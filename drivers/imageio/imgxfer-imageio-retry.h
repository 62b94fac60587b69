/* imgxfer-imageio-retry.h: imageio requests sent again on a new
 * connection when they failed in a way that may pass
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "imgxfer-imageio-http.h"

G_BEGIN_DECLS

typedef struct _ImgxferImageioRetry ImgxferImageioRetry;

/* A new connection to the server, reached as the one it replaces. */
typedef ImgxferImageioHttp *(*ImgxferImageioConnectFunc) (gpointer data,
                                                          GError **error);

/* For one connection, *@http of each call, which a retry replaces with
 * one from @connect. Requests to @url (named in the log) are sent again
 * up to @retries times in a row. A request that finds the writes sent
 * without flush since the last flush on a connection replaced fails
 * with IMGXFER_ERROR_RECONNECTED, not sent or not surely: the caller
 * writes them again, then sends it again. */
ImgxferImageioRetry *
_imgxfer_imageio_retry_new (const char *url, guint retries,
                            ImgxferImageioConnectFunc connect,
                            gpointer connect_data);
void _imgxfer_imageio_retry_free (ImgxferImageioRetry *self);

gboolean _imgxfer_imageio_retry_get (ImgxferImageioRetry *self,
                                     ImgxferImageioHttp **http, void *buffer,
                                     gsize length, guint64 offset,
                                     GCancellable *cancellable, GError **error);
gboolean _imgxfer_imageio_retry_put (ImgxferImageioRetry *self,
                                     ImgxferImageioHttp **http,
                                     const void *buffer, gsize length,
                                     guint64 offset, gboolean flush,
                                     GCancellable *cancellable, GError **error);
gboolean _imgxfer_imageio_retry_zero (ImgxferImageioRetry *self,
                                      ImgxferImageioHttp **http, guint64 offset,
                                      guint64 length, gboolean flush,
                                      GCancellable *cancellable,
                                      GError **error);
gboolean _imgxfer_imageio_retry_flush (ImgxferImageioRetry *self,
                                       ImgxferImageioHttp **http,
                                       GCancellable *cancellable,
                                       GError **error);
GArray *_imgxfer_imageio_retry_extents (ImgxferImageioRetry *self,
                                        ImgxferImageioHttp **http,
                                        ImgxferExtentContext context,
                                        GCancellable *cancellable,
                                        GError **error);

/* OPTIONS at open, the size query of a server without features, and the
 * server's checksum: requests like the others, sent again the same way. */
gboolean _imgxfer_imageio_retry_options (ImgxferImageioRetry *self,
                                         ImgxferImageioHttp **http,
                                         ImgxferImageioFeatures *features,
                                         GCancellable *cancellable,
                                         GError **error);
gboolean _imgxfer_imageio_retry_get_size (ImgxferImageioRetry *self,
                                          ImgxferImageioHttp **http,
                                          guint64 *size,
                                          GCancellable *cancellable,
                                          GError **error);
JsonNode *_imgxfer_imageio_retry_checksum (
    ImgxferImageioRetry *self, ImgxferImageioHttp **http, const char *algorithm,
    gsize block_size, GCancellable *cancellable, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferImageioRetry, _imgxfer_imageio_retry_free)

G_END_DECLS
