/* serve-json.h: JSON and Python-style text as imageio writes them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

/* Bodies from clients are parsed with _imgxfer_json_parse_strict(), which
 * the daemon shares with the drivers. */
#include "drivers/common/imgxfer-json-strict.h"

G_BEGIN_DECLS

/* @node in the form of Python's json.dumps() with its default options
 * (", " and ": " separators, non-ASCII escaped), followed by a newline:
 * the bytes an imageio daemon sends. */
char *serve_json_dumps (JsonNode *node);

/* @text quoted as Python's repr() quotes a str, for error messages that
 * read like imageio's. */
char *serve_repr (const char *text);

/* @node as imageio's messages show a value: a string as Python's repr(),
 * anything else as JSON. */
char *serve_json_repr (JsonNode *node);

/* imageio's validate.integer(): the integer @key of @object, at least 0
 * and at most @max; a SERVE_ERROR 400 in imageio's words otherwise, or
 * when @required and it is missing. @value is left alone when it is not
 * given. */
gboolean serve_json_get_integer (JsonObject *object, const char *key,
                                 gboolean required, guint64 max, guint64 *value,
                                 GError **error);

/* A copy of @strv in the order of Python's sorted(). */
char **serve_sorted_strv (const char *const *strv);

G_END_DECLS
