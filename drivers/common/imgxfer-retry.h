/* imgxfer-retry.h: the pause before a failed request is sent again
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The first pause, doubled at each retry up to the last one. A server
 * restarting takes seconds: six retries wait 15.75 s in all. */
#define IMGXFER_RETRY_FIRST_DELAY_MS 250
#define IMGXFER_RETRY_MAX_DELAY_MS (10 * 1000)

/* Says on the log that @request (a method, a URL, a range) is sent again
 * after failing because of @reason, as retry @attempt (from 1) of
 * @retries, then waits before it. FALSE, with @error set, when
 * @cancellable fires meanwhile. */
gboolean _imgxfer_retry_wait (const char *request, const char *reason,
                              guint attempt, guint retries,
                              GCancellable *cancellable, GError **error);

G_END_DECLS
