/* imgxfer-file-backend.h: images in local files and block devices
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_FILE_BACKEND (imgxfer_file_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferFileBackend, imgxfer_file_backend, IMGXFER,
                      FILE_BACKEND, ImgxferBackend)

G_END_DECLS
