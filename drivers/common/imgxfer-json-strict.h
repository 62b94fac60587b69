/* imgxfer-json-strict.h: JSON from a peer that is not trusted
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Parses @length bytes of @data as one JSON value, refusing what
 * json-glib 1.6 would mishandle: anything after the first value (which
 * it would leak) and strings or member names that are not UTF-8 (which
 * it makes out of escapes such as "\333"). An empty document is an
 * error too. On failure sets @error (JSON_PARSER_ERROR) to what was
 * wrong. Needs nothing but json-glib: the daemon (server/) and the
 * drivers both use it. */
JsonNode *_imgxfer_json_parse_strict (const char *data, gsize length,
                                      GError **error);

G_END_DECLS
