/* imgxfer-size.h: sizes as people write them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_0_1
gboolean imgxfer_size_parse (const char *text, guint64 *size, GError **error);

G_END_DECLS
