/* imgxfer-archive.h: what an OVA/tar archive holds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_ALL
JsonNode *imgxfer_archive_list (const char *path,
                                GCancellable *cancellable,
                                GError **error);

G_END_DECLS
