/* imgxfer-transfer.h: uploading to and downloading from imageio servers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-transfer-options.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-transfer
 * @title: Uploads and downloads
 * @short_description: transferring images to and from imageio servers
 * @see_also: #ImgxferTransferOptions, #ImgxferCopy
 *
 * imgxfer_upload() and imgxfer_download() are the calls of
 * ovirt-imageio's client: they copy a local image into the image behind a
 * transfer URL (`https://HOST:PORT/images/TICKET` of ovirt-imageio or
 * `imgxfer serve`) and back, with the server's features (zero, flush,
 * extents), as many connections as the ticket allows, and the server's
 * unix socket when it runs on the same host. An expired or removed ticket
 * fails with %IMGXFER_ERROR_EXPIRED.
 *
 * The synchronous calls block the calling thread; the asynchronous ones
 * run the transfer in a worker thread and call back on the
 * thread-default main context of the thread that started them, where the
 * progress callback of the options is also called. Cancelling the
 * #GCancellable stops the transfer with %G_IO_ERROR_CANCELLED.
 */

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
