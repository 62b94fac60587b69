/* imgxfer-archive-private.h: the tar driver's side of imgxfer_archive_list()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

/* What the core asks of the tar driver, which holds libarchive. */
typedef struct
{
  /* Does all of imgxfer_archive_list()'s work; @path is not NULL. */
  JsonNode *(*list) (const char *path,
                     GCancellable *cancellable,
                     GError **error);
} ImgxferArchiveVTable;

/* Called by the tar driver's class_init; @vtable is static. Exported from
 * the library for the tar module, but not part of the API. */
_IMGXFER_EXTERN
void _imgxfer_archive_set_vtable (const ImgxferArchiveVTable *vtable);

G_END_DECLS
