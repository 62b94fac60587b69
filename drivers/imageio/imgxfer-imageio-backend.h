/* imgxfer-imageio-backend.h: images behind an imageio server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_IMAGEIO_BACKEND (imgxfer_imageio_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferImageioBackend, imgxfer_imageio_backend, IMGXFER,
                      IMAGEIO_BACKEND, ImgxferBackend)

G_END_DECLS
