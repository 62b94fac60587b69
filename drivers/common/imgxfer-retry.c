/* imgxfer-retry.c: the pause before a failed request is sent again
 *
 * The drivers of images behind servers decide what may be retried, and
 * on which connection; what they share is how long they wait and what
 * they say. The line goes out at message level, shown by default (the
 * command prints "imgxfer: retrying ..."): a server that went away for a
 * moment is news for the user, but not a warning in GLib's sense, which
 * G_DEBUG=fatal-warnings would turn into an abort of the application.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-retry.h"

static guint
delay_ms (guint attempt)
{
  guint64 delay = IMGXFER_RETRY_FIRST_DELAY_MS;

  for (guint i = 1; i < attempt && delay < IMGXFER_RETRY_MAX_DELAY_MS; i++)
    delay *= 2;
  return MIN (delay, IMGXFER_RETRY_MAX_DELAY_MS);
}

/* A sleep that ends early when @cancellable fires. */
static gboolean
sleep_ms (guint ms, GCancellable *cancellable, GError **error)
{
  GPollFD fd;

  if (!g_cancellable_make_pollfd (cancellable, &fd))
    {
      g_usleep ((gulong)ms * 1000);
      return TRUE;
    }
  g_poll (&fd, 1, ms);
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

gboolean
_imgxfer_retry_wait (const char *request, const char *reason, guint attempt,
                     guint retries, GCancellable *cancellable, GError **error)
{
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  g_message ("retrying %s after: %s (%u/%u)", request, reason, attempt,
             retries);
  return sleep_ms (delay_ms (attempt), cancellable, error);
}
