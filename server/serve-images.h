/* serve-images.h: the /images/ and /info/ resources
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "serve-server.h"

G_BEGIN_DECLS

typedef enum
{
  SERVE_ROUTE_NONE,
  SERVE_ROUTE_IMAGE,
  SERVE_ROUTE_EXTENTS,
  SERVE_ROUTE_CHECKSUM,
  SERVE_ROUTE_ALGORITHMS,
  SERVE_ROUTE_INFO,
} ServeRoute;

/* A request's path with its %XX decoded, as imageio routes it; the path
 * as it is when it would decode to a NUL. */
char *serve_images_unquote_path (const char *path);
/* Which resource the unquoted @path names, and the ticket id in it
 * (set for the /images/ routes only, possibly empty), as imageio's
 * route patterns match a prefix: extents and checksum before the
 * image. */
ServeRoute serve_images_route (ServeServiceKind kind, const char *path,
                               char **id);

/* Routes a request of the remote or local service, as imageio's routes
 * match them; /info/ only on the remote service. */
void serve_images_handle (ServeServer *server, ServeServiceKind kind,
                          SoupServerMessage *msg);
/* Before the body: PUT bodies are streamed into the image. */
void serve_images_handle_early (ServeServer *server, ServeServiceKind kind,
                                SoupServerMessage *msg);

/* imageio's CORS headers on the answer to @msg, for a browser's request
 * from another origin: on GET, PUT and OPTIONS of an image. Before the
 * request is handled, so that its errors have them too. */
void serve_images_add_cors (ServeServiceKind kind, SoupServerMessage *msg);

/* The control service's routes. */
void serve_control_handle (ServeServer *server, SoupServerMessage *msg);

/* Each resource, once routed; @id is the ticket id from the path. */
void serve_options (ServeServer *server, SoupServerMessage *msg,
                    const char *id);
void serve_download (ServeServer *server, SoupServerMessage *msg,
                     const char *id);
void serve_upload_early (ServeServer *server, SoupServerMessage *msg,
                         const char *id);
void serve_upload (ServeServer *server, SoupServerMessage *msg, const char *id);
void serve_patch (ServeServer *server, SoupServerMessage *msg, const char *id);
void serve_extents (ServeServer *server, SoupServerMessage *msg,
                    const char *id);
void serve_checksum (ServeServer *server, SoupServerMessage *msg,
                     const char *id);
void serve_checksum_algorithms (ServeServer *server, SoupServerMessage *msg);
/* ?block_size= of a checksum request (@text NULL: absent, the default);
 * 400 when it is not one the server takes. */
gboolean serve_checksum_parse_block_size (const char *text, gsize *block_size,
                                          GError **error);
void serve_info (ServeServer *server, SoupServerMessage *msg);

/* Shared by the resources: the ticket @id allowing @op, counting the
 * connection among the ticket's; 400 without an id, 403 otherwise (and
 * the connection closed, as imageio does). */
ServeTicket *serve_images_authorize (ServeServer *server,
                                     SoupServerMessage *msg, const char *id,
                                     const char *op, gboolean close_on_error);

/* TRUE when @length bytes at @offset lie within the ticket's size;
 * otherwise answers 416 as imageio does and returns FALSE. */
gboolean serve_images_check_range (SoupServerMessage *msg, ServeTicket *ticket,
                                   guint64 offset, guint64 length);

G_END_DECLS
