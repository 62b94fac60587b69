/* imgxfer-transfer-private.h: what the transfer calls read of their options
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-transfer-options.h>

G_BEGIN_DECLS

ImgxferTransferProgressFunc
_imgxfer_transfer_options_get_progress (ImgxferTransferOptions *self,
                                        gpointer *user_data);

G_END_DECLS
