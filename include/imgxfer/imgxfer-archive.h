/* imgxfer-archive.h: what an OVA/tar archive holds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-archive
 * @title: Archives
 * @short_description: what an OVA/tar archive holds
 * @see_also: imgxfer_open_options_set_member()
 *
 * An OVA is a tar archive holding an OVF descriptor and disk images.
 * imgxfer_archive_list() lists its members and disks; a member is opened
 * in place, without extracting it, by giving its name in the options of
 * imgxfer_open() (imgxfer_open_options_set_member()). Compressed archives
 * and sparse members are refused, never read as wrong data.
 */

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_ALL
JsonNode *imgxfer_archive_list (const char *path,
                                GCancellable *cancellable,
                                GError **error);

G_END_DECLS
