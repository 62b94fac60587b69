/* serve-buffer.h: the large buffers that request bodies gather in
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each buffer holds SERVE_BUFFER_SIZE bytes without growing. */
#define SERVE_BUFFER_SIZE (2 * 1024 * 1024)

/* An empty buffer, taken from the free ones when there are some: a freed
 * buffer of this size goes back to the system, and the next one would
 * fault every page in again (a tenth of the daemon's time on a PUT). */
GByteArray *serve_buffer_take (void);

/* Gives @buffer back: kept for the next request, or freed when enough
 * are kept already, so that memory stays bounded after a burst. */
void serve_buffer_give (GByteArray *buffer);

G_END_DECLS
