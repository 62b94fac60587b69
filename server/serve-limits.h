/* serve-limits.h: bounds on a request's line and header fields
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* TRUE when the request line and header fields of @msg are within the
 * daemon's bounds; otherwise answers 414 or 431, closing the connection
 * without reading the body, and returns FALSE. For early handlers. */
gboolean serve_limits_check_head (SoupServerMessage *msg);

G_END_DECLS
