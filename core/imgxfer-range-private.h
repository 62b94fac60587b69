/* imgxfer-range-private.h: request checks shared by the role wrappers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>

G_BEGIN_DECLS

gboolean _imgxfer_missing_vfunc (ImgxferBackend *backend, const char *vfunc,
                                 GError **error);
gboolean _imgxfer_check_open (ImgxferBackend *backend, const char *what,
                              GError **error);
gboolean _imgxfer_check_range (ImgxferBackend *backend,
                               const char *what,
                               guint64 offset,
                               guint64 length,
                               GError **error);
gboolean _imgxfer_check_request (ImgxferBackend *backend,
                                 const char *what,
                                 guint64 offset,
                                 guint64 length,
                                 GError **error);

G_END_DECLS
