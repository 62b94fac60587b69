/* imgxfer-qcow2-writer.h: new qcow2 images, written directly
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_QCOW2_WRITER (imgxfer_qcow2_writer_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferQcow2Writer, imgxfer_qcow2_writer, IMGXFER,
                      QCOW2_WRITER, ImgxferBackend)

G_END_DECLS
