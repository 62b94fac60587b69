/* serve-http.h: requests and responses in imageio's form
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* A plain-text body with the error's message and the status it carries
 * (serve-error.h), as imageio answers errors. */
void serve_http_send_error (SoupServerMessage *msg, const GError *error);
/* The same with "Content-Range: bytes * /SIZE", for 416. */
void serve_http_send_range_error (SoupServerMessage *msg, const GError *error,
                                  guint64 size);
/* An error of @status with the message @format. */
void serve_http_send_status (SoupServerMessage *msg, guint status,
                             const char *format, ...) G_GNUC_PRINTF (3, 4);
/* 200 with @node as JSON. */
void serve_http_send_json (SoupServerMessage *msg, JsonNode *node);
/* 200 (or @status) with no body. */
void serve_http_send_empty (SoupServerMessage *msg, guint status);
/* Asks for the connection to close after this response. */
void serve_http_close_connection (SoupServerMessage *msg);

/* "bytes=FIRST-[LAST]": LAST is -1 when open-ended. Suffix and multiple
 * ranges are refused with 416, as imageio does. */
gboolean serve_http_parse_range (const char *header, guint64 *first,
                                 gint64 *last, GError **error);
/* "bytes FIRST-LAST|* / COMPLETE|*": a PUT's offset, and its last byte
 * (-1 for "*"); 400 when invalid. */
gboolean serve_http_parse_content_range (const char *header, guint64 *first,
                                         gint64 *last, GError **error);

/* The parameters of @query (NULL: none), decoded; an invalid query has
 * none, as imageio reads it. */
GHashTable *serve_http_parse_query (const char *query);
/* The value of @key in the request's query, or NULL. */
const char *serve_http_query (SoupServerMessage *msg, const char *key);
/* @key must be one of @values (NULL-terminated) or absent, then
 * @fallback; otherwise 400 with imageio's message. */
gboolean serve_http_query_enum (SoupServerMessage *msg, const char *key,
                                const char *const *values, const char *fallback,
                                const char **value, GError **error);
/* The same check of the value @given (NULL: absent) of @key. */
gboolean serve_http_check_enum (const char *key, const char *given,
                                const char *const *values, const char *fallback,
                                const char **value, GError **error);

/* The request body's length from Content-Length; 400 when the request
 * has none (chunked bodies are not taken). */
gboolean serve_http_content_length (SoupServerMessage *msg, guint64 *length,
                                    GError **error);

G_END_DECLS
