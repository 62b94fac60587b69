/* imgxfer-transfer-options.h: how imgxfer_upload() and imgxfer_download()
 * transfer an image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-transfer-options
 * @title: ImgxferTransferOptions
 * @short_description: how an upload or a download goes
 * @see_also: imgxfer_upload(), imgxfer_download()
 *
 * The options of imgxfer_upload() and imgxfer_download(), with the
 * defaults of ovirt-imageio's client: TLS, proxy and connections for the
 * server, the archive member and backing chain of an upload, the format,
 * backing file and incremental mode of a download, and a progress
 * callback.
 */

G_BEGIN_DECLS

/**
 * ImgxferTransferProgressFunc:
 * @length: bytes of one completed request: data written or read, or a
 *   whole run of zeroes (sent as one zero request, or skipped)
 * @total: the size of the image, the same at every call
 * @user_data: user data
 *
 * Called on the thread-default main context of the thread that started
 * the transfer, once per completed request; on success the lengths add up
 * to @total.
 *
 * Since: 0.1
 */
typedef void (*ImgxferTransferProgressFunc) (guint64 length, guint64 total,
                                             gpointer user_data);

/**
 * IMGXFER_TYPE_TRANSFER_OPTIONS:
 *
 * The #GType of #ImgxferTransferOptions.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_TRANSFER_OPTIONS (imgxfer_transfer_options_get_type ())

/**
 * ImgxferTransferOptions:
 *
 * How imgxfer_upload() and imgxfer_download() transfer an image: the
 * options of ovirt-imageio's client. Set them before the transfer starts
 * and do not change them while it runs.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ImgxferTransferOptions, imgxfer_transfer_options, IMGXFER,
                      TRANSFER_OPTIONS, GObject)

IMGXFER_AVAILABLE_IN_ALL
ImgxferTransferOptions *imgxfer_transfer_options_new (void);

/* TLS: a CA file to trust instead of the system's CAs; secure FALSE
 * verifies nothing. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_ca_file (ImgxferTransferOptions *self,
                                           const char *ca_file);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_transfer_options_get_ca_file (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_secure (ImgxferTransferOptions *self,
                                          gboolean secure);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_transfer_options_get_secure (ImgxferTransferOptions *self);

IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_proxy_url (ImgxferTransferOptions *self,
                                             const char *proxy_url);
IMGXFER_AVAILABLE_IN_ALL
const char *
imgxfer_transfer_options_get_proxy_url (ImgxferTransferOptions *self);

IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_connections (ImgxferTransferOptions *self,
                                               guint connections);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_transfer_options_get_connections (ImgxferTransferOptions *self);

/* Failed requests sent again; see imgxfer_open_options_set_retries(). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_retries (ImgxferTransferOptions *self,
                                           guint retries);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_transfer_options_get_retries (ImgxferTransferOptions *self);
/* Seconds connecting and each request may go without progress (0: 60). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_timeout (ImgxferTransferOptions *self,
                                           guint timeout);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_transfer_options_get_timeout (ImgxferTransferOptions *self);

/* Upload: the member of a tar/OVA archive; the backing chain or only the
 * top layer; the ticket's disk already reads as zeroes. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_member (ImgxferTransferOptions *self,
                                          const char *member);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_transfer_options_get_member (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_backing_chain (ImgxferTransferOptions *self,
                                                 gboolean backing_chain);
IMGXFER_AVAILABLE_IN_ALL
gboolean
imgxfer_transfer_options_get_backing_chain (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_disk_is_zero (ImgxferTransferOptions *self,
                                                gboolean disk_is_zero);
IMGXFER_AVAILABLE_IN_ALL
gboolean
imgxfer_transfer_options_get_disk_is_zero (ImgxferTransferOptions *self);

/* Download: the new file's format (default qcow2) and backing file; only
 * the dirty extents of an incremental backup. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_format (ImgxferTransferOptions *self,
                                          const char *format);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_transfer_options_get_format (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_backing_file (ImgxferTransferOptions *self,
                                                const char *backing_file);
IMGXFER_AVAILABLE_IN_ALL
const char *
imgxfer_transfer_options_get_backing_file (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_backing_format (ImgxferTransferOptions *self,
                                                  const char *backing_format);
IMGXFER_AVAILABLE_IN_ALL
const char *
imgxfer_transfer_options_get_backing_format (ImgxferTransferOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_incremental (ImgxferTransferOptions *self,
                                               gboolean incremental);
IMGXFER_AVAILABLE_IN_ALL
gboolean
imgxfer_transfer_options_get_incremental (ImgxferTransferOptions *self);

IMGXFER_AVAILABLE_IN_ALL
void imgxfer_transfer_options_set_progress_func (
    ImgxferTransferOptions *self, ImgxferTransferProgressFunc func,
    gpointer user_data, GDestroyNotify notify);

G_END_DECLS
