/* imgxfer-transfer-options.c: how an upload or a download goes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-open-options.h>
#include <imgxfer/imgxfer-transfer-options.h>

#include "imgxfer-transfer-private.h"

struct _ImgxferTransferOptions
{
  GObject parent_instance;
  char *ca_file;
  char *proxy_url;
  char *member;
  char *format;
  char *backing_file;
  char *backing_format;
  gboolean secure;
  gboolean backing_chain;
  gboolean disk_is_zero;
  gboolean incremental;
  guint connections;
  guint retries;
  guint timeout;
  ImgxferTransferProgressFunc progress_func;
  gpointer progress_data;
  GDestroyNotify progress_notify;
};

G_DEFINE_FINAL_TYPE (ImgxferTransferOptions, imgxfer_transfer_options,
                     G_TYPE_OBJECT)

static void
imgxfer_transfer_options_finalize (GObject *object)
{
  ImgxferTransferOptions *self = IMGXFER_TRANSFER_OPTIONS (object);

  g_free (self->ca_file);
  g_free (self->proxy_url);
  g_free (self->member);
  g_free (self->format);
  g_free (self->backing_file);
  g_free (self->backing_format);
  if (self->progress_notify)
    self->progress_notify (self->progress_data);

  G_OBJECT_CLASS (imgxfer_transfer_options_parent_class)->finalize (object);
}

static void
imgxfer_transfer_options_class_init (ImgxferTransferOptionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = imgxfer_transfer_options_finalize;
}

static void
imgxfer_transfer_options_init (ImgxferTransferOptions *self)
{
  self->secure = TRUE;
  self->backing_chain = TRUE;
  self->retries = IMGXFER_DEFAULT_RETRIES;
}

/**
 * imgxfer_transfer_options_new:
 *
 * Returns: (transfer full): the options of ovirt-imageio's client by
 *   default: verified TLS with the system's CAs, the whole backing chain,
 *   4 connections, a qcow2 download
 *
 * Since: 0.1
 */
ImgxferTransferOptions *
imgxfer_transfer_options_new (void)
{
  return g_object_new (IMGXFER_TYPE_TRANSFER_OPTIONS, NULL);
}

/**
 * imgxfer_transfer_options_set_ca_file:
 * @self: transfer options
 * @ca_file: (nullable): the CA certificates (a PEM file) to trust instead of
 * the system's
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_ca_file (ImgxferTransferOptions *self,
                                      const char *ca_file)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);
}

/**
 * imgxfer_transfer_options_get_ca_file:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_ca_file (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->ca_file;
}

/**
 * imgxfer_transfer_options_set_proxy_url:
 * @self: transfer options
 * @proxy_url: (nullable): a URL to use when @url cannot be reached at all (no
 * name, no route, refused, TLS handshake failed); never after an HTTP error
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_proxy_url (ImgxferTransferOptions *self,
                                        const char *proxy_url)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->proxy_url);
  self->proxy_url = g_strdup (proxy_url);
}

/**
 * imgxfer_transfer_options_get_proxy_url:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_proxy_url (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->proxy_url;
}

/**
 * imgxfer_transfer_options_set_member:
 * @self: transfer options
 * @member: (nullable): upload the member of this name of the tar/OVA archive
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_member (ImgxferTransferOptions *self,
                                     const char *member)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->member);
  self->member = g_strdup (member);
}

/**
 * imgxfer_transfer_options_get_member:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_member (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->member;
}

/**
 * imgxfer_transfer_options_set_format:
 * @self: transfer options
 * @format: (nullable): the format of the downloaded file; %NULL for qcow2
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_format (ImgxferTransferOptions *self,
                                     const char *format)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->format);
  self->format = g_strdup (format);
}

/**
 * imgxfer_transfer_options_get_format:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_format (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->format;
}

/**
 * imgxfer_transfer_options_set_backing_file:
 * @self: transfer options
 * @backing_file: (nullable): create the downloaded file with this backing file
 * and copy only the server's top layer
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_backing_file (ImgxferTransferOptions *self,
                                           const char *backing_file)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->backing_file);
  self->backing_file = g_strdup (backing_file);
}

/**
 * imgxfer_transfer_options_get_backing_file:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_backing_file (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->backing_file;
}

/**
 * imgxfer_transfer_options_set_backing_format:
 * @self: transfer options
 * @backing_format: (nullable): the format of the backing file
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_backing_format (ImgxferTransferOptions *self,
                                             const char *backing_format)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  g_free (self->backing_format);
  self->backing_format = g_strdup (backing_format);
}

/**
 * imgxfer_transfer_options_get_backing_format:
 * @self: transfer options
 *
 * Returns: (nullable): the value set
 *
 * Since: 0.1
 */
const char *
imgxfer_transfer_options_get_backing_format (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), NULL);
  return self->backing_format;
}

/**
 * imgxfer_transfer_options_set_secure:
 * @self: transfer options
 * @secure: whether the server's certificate is verified (default %TRUE)
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_secure (ImgxferTransferOptions *self,
                                     gboolean secure)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->secure = secure;
}

/**
 * imgxfer_transfer_options_get_secure:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
gboolean
imgxfer_transfer_options_get_secure (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), TRUE);
  return self->secure;
}

/**
 * imgxfer_transfer_options_set_backing_chain:
 * @self: transfer options
 * @backing_chain: whether an upload sends the whole backing chain (default
 * %TRUE) or only the top layer, leaving its holes untouched so that the
 * ticket's disk shows its own backing chain there
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_backing_chain (ImgxferTransferOptions *self,
                                            gboolean backing_chain)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->backing_chain = backing_chain;
}

/**
 * imgxfer_transfer_options_get_backing_chain:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
gboolean
imgxfer_transfer_options_get_backing_chain (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), TRUE);
  return self->backing_chain;
}

/**
 * imgxfer_transfer_options_set_disk_is_zero:
 * @self: transfer options
 * @disk_is_zero: whether the ticket's disk already reads as zeroes, so that an
 * upload sends no zero requests
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_disk_is_zero (ImgxferTransferOptions *self,
                                           gboolean disk_is_zero)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->disk_is_zero = disk_is_zero;
}

/**
 * imgxfer_transfer_options_get_disk_is_zero:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
gboolean
imgxfer_transfer_options_get_disk_is_zero (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), FALSE);
  return self->disk_is_zero;
}

/**
 * imgxfer_transfer_options_set_incremental:
 * @self: transfer options
 * @incremental: whether a download copies only the dirty extents of an
 * incremental backup
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_incremental (ImgxferTransferOptions *self,
                                          gboolean incremental)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->incremental = incremental;
}

/**
 * imgxfer_transfer_options_get_incremental:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
gboolean
imgxfer_transfer_options_get_incremental (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), FALSE);
  return self->incremental;
}

/**
 * imgxfer_transfer_options_set_connections:
 * @self: transfer options
 * @connections: how many connections to use at most; 0 for 4. Never more
 *   are used than the server allows for the ticket (max_readers,
 *   max_writers).
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_connections (ImgxferTransferOptions *self,
                                          guint connections)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->connections = connections;
}

/**
 * imgxfer_transfer_options_get_connections:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
guint
imgxfer_transfer_options_get_connections (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), 0);
  return self->connections;
}

/**
 * imgxfer_transfer_options_set_retries:
 * @self: transfer options
 * @retries: how many times a request to the server that failed in a way
 *   that may pass (a connection reset, a daemon restarting) is sent again;
 *   0 never. See imgxfer_open_options_set_retries().
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_retries (ImgxferTransferOptions *self,
                                      guint retries)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->retries = retries;
}

/**
 * imgxfer_transfer_options_get_retries:
 * @self: transfer options
 *
 * Returns: the value set; %IMGXFER_DEFAULT_RETRIES by default
 *
 * Since: 0.1
 */
guint
imgxfer_transfer_options_get_retries (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), 0);
  return self->retries;
}

/**
 * imgxfer_transfer_options_set_timeout:
 * @self: transfer options
 * @timeout: how many seconds connecting to the server, and each request,
 *   may go without progress before the transfer fails; 0 for 60
 *
 * A server that stops reading an upload or sending a download then fails
 * the transfer with an error saying it timed out.
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_timeout (ImgxferTransferOptions *self,
                                      guint timeout)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));
  self->timeout = timeout;
}

/**
 * imgxfer_transfer_options_get_timeout:
 * @self: transfer options
 *
 * Returns: the value set
 *
 * Since: 0.1
 */
guint
imgxfer_transfer_options_get_timeout (ImgxferTransferOptions *self)
{
  g_return_val_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self), 0);
  return self->timeout;
}

/**
 * imgxfer_transfer_options_set_progress_func:
 * @self: transfer options
 * @func: (nullable) (scope notified): called with the length of each
 *   completed request and the image's size
 * @user_data: (closure func): data for @func
 * @notify: (nullable) (destroy user_data): frees @user_data
 *
 * Since: 0.1
 */
void
imgxfer_transfer_options_set_progress_func (ImgxferTransferOptions *self,
                                            ImgxferTransferProgressFunc func,
                                            gpointer user_data,
                                            GDestroyNotify notify)
{
  g_return_if_fail (IMGXFER_IS_TRANSFER_OPTIONS (self));

  if (self->progress_notify)
    self->progress_notify (self->progress_data);
  self->progress_func = func;
  self->progress_data = user_data;
  self->progress_notify = notify;
}

ImgxferTransferProgressFunc
_imgxfer_transfer_options_get_progress (ImgxferTransferOptions *self,
                                        gpointer *user_data)
{
  *user_data = self->progress_data;
  return self->progress_func;
}
