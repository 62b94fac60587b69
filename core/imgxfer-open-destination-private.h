/* imgxfer-open-destination-private.h: the destination checks the copy
 * engine repeats for callers that opened their destination themselves
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>

G_BEGIN_DECLS

/* Whether @destination holds @size bytes, the size of @source when it is
 * not NULL; the error names both. */
gboolean _imgxfer_destination_check_size (ImgxferBackend *destination,
                                          guint64 size, ImgxferBackend *source,
                                          GError **error);

G_END_DECLS
