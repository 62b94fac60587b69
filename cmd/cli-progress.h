/* cli-progress.h: a progress indicator on stderr
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CliProgress CliProgress;

/* A progress indicator for @total bytes, printed on stderr in the form
 * qemu-img uses ("    (42.00/100%)"), or with @json on stdout as one
 * object per line ({"transferred": N, "size": N, "elapsed": S}); redrawn
 * at most every 100 ms, when it changed, by the thread that counts bytes
 * when the time has come. */
CliProgress *cli_progress_new (guint64 total, gboolean json);

/* Counts @length more bytes done. Thread safe and cheap: it is called from
 * the copy workers once per request. */
void cli_progress_add (CliProgress *self, guint64 length);

/* Stops redrawing. On success prints the final state and a newline; on
 * failure ends the line without claiming completion. */
void cli_progress_finish (CliProgress *self, gboolean success);

void cli_progress_free (CliProgress *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliProgress, cli_progress_free)

G_END_DECLS
