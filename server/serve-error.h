/* serve-error.h: errors that carry the HTTP status they answer with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The codes of SERVE_ERROR are HTTP status codes, so that an error raised
 * deep in a handler reaches the client with the status imageio gives. */
#define SERVE_ERROR (serve_error_quark ())
GQuark serve_error_quark (void);

/* The HTTP status for any error: SERVE_ERROR codes as they are, a
 * cancelled operation 403 (the ticket went away), writes lost with the
 * connection of a backend (IMGXFER_ERROR_RECONNECTED) 503, anything else
 * 500. */
guint serve_error_status (const GError *error);

G_END_DECLS
