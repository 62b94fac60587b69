/* imgxfer-transfer.h: uploading to and downloading from imageio servers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-transfer-options.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_upload (const char *filename, const char *url,
                         ImgxferTransferOptions *options,
                         GCancellable *cancellable, GError **error);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_upload_async (const char *filename, const char *url,
                           ImgxferTransferOptions *options,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_upload_finish (GAsyncResult *result, GError **error);

IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_download (const char *url, const char *filename,
                           ImgxferTransferOptions *options,
                           GCancellable *cancellable, GError **error);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_download_async (const char *url, const char *filename,
                             ImgxferTransferOptions *options,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_download_finish (GAsyncResult *result, GError **error);

G_END_DECLS
