/* serve-error.c: errors that carry the HTTP status they answer with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <imgxfer/imgxfer.h>

#include "serve-error.h"

G_DEFINE_QUARK (imgxfer - serve - error - quark, serve_error)

guint
serve_error_status (const GError *error)
{
  if (error->domain == SERVE_ERROR)
    return error->code;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return 403;
  /* Not done, and not an error of the image: the same request succeeds on
   * a new connection once its writes were sent again (serve-request.c). */
  if (g_error_matches (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED))
    return 503;
  return 500;
}
