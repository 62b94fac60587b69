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
 * Makes the options of ovirt-imageio's client by default: verified TLS
 * with the system's CAs, the whole backing chain, 4 connections, a qcow2
 * download, a 60 s timeout, %IMGXFER_DEFAULT_RETRIES retries, no progress
 * callback.
 *
 * Returns: (transfer full): new transfer options
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
 * @ca_file: (nullable) (type filename): the CA certificates (a PEM file) to
 *   trust instead of the system's, or %NULL
 *
 * Sets the CA certificates that the imageio server's certificate is
 * checked against. Default: %NULL, the system's CAs.
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
 * Gets the CA file the server's certificate is checked against.
 *
 * Returns: (nullable) (type filename): the value set, or %NULL
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
 * @proxy_url: (nullable): a URL to use when the transfer URL cannot be
 *   reached at all (no name, no route, refused, TLS handshake failed);
 *   never after an HTTP error
 *
 * Sets the URL of the same ticket through an imageio proxy, as
 * ovirt-imageio's client takes it. Default: %NULL, no fallback.
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
 * Gets the proxy URL of the transfer.
 *
 * Returns: (nullable): the value set, or %NULL
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
 * @member: (nullable): upload the member of this name of the tar/OVA
 *   archive, or %NULL to upload the file itself
 *
 * Sets the archive member that an upload sends, the file then being a
 * tar/OVA archive. Downloads ignore it. Default: %NULL.
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
 * Gets the archive member that an upload sends.
 *
 * Returns: (nullable): the value set, or %NULL
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
 * Sets the format of the image a download creates. An incremental
 * download needs qcow2 (%IMGXFER_ERROR_INVALID_ARGUMENT otherwise).
 * Uploads ignore it: the source's format is probed. Default: %NULL.
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
 * Gets the format of the image a download creates.
 *
 * Returns: (nullable): the value set, or %NULL
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
 * @backing_file: (nullable) (type filename): create the downloaded file with
 *   this backing file and copy only the server's top layer
 *
 * Sets the backing file of the image a download creates: only the
 * server's top layer is copied, its holes left unallocated so that the
 * backing file shows through them. Default: %NULL, the whole image.
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
 * Gets the backing file of the image a download creates.
 *
 * Returns: (nullable) (type filename): the value set, or %NULL
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
 * Sets the format of the backing file set with
 * imgxfer_transfer_options_set_backing_file(), written into the new
 * image. Default: %NULL.
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
 * Gets the format of the backing file of the image a download creates.
 *
 * Returns: (nullable): the value set, or %NULL
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
 * Sets whether the imageio server's certificate is verified. %FALSE is
 * for tests and throwaway servers only: the server is then not
 * authenticated.
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
 * Gets whether the server's certificate is verified.
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
 *   %TRUE) or only the top layer, leaving its holes untouched so that the
 *   ticket's disk shows its own backing chain there
 *
 * Sets whether an upload sends what the guest sees through the whole
 * backing chain of the source, or only its top layer. Downloads ignore
 * it.
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
 * Gets whether an upload sends the whole backing chain.
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
 *   upload sends no zero requests
 *
 * Sets whether the disk behind the ticket is known to read as zeroes
 * (a new sparse image), so that an upload skips its zero ranges. Setting
 * it for a disk that holds data leaves that data where the source has
 * zeroes. Default: %FALSE.
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
 * Gets whether the ticket's disk is known to read as zeroes.
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
 *   incremental backup
 *
 * Sets whether a download copies only the ranges the server reports
 * dirty (`GET /extents?context=dirty`, a ticket with `"dirty": true`);
 * the new image must be qcow2. Default: %FALSE.
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
 * Gets whether a download copies only the dirty extents.
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
 * Sets how many connections, each in its own thread, a transfer uses.
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
 * Gets how many connections a transfer uses at most.
 *
 * Returns: the value set, 0 standing for 4
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
 * Sets how many times a transfer sends a request again, on a new
 * connection, when it failed in a way that may pass; an expired ticket
 * still fails at once. Default: %IMGXFER_DEFAULT_RETRIES.
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
 * Gets how many times a transfer sends a failed request again.
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
 * the transfer with an error saying it timed out (%G_IO_ERROR_TIMED_OUT).
 * Default: 0.
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
 * Gets how long the server may go without progress.
 *
 * Returns: the value set, in seconds, 0 standing for 60
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
 * Sets the function that reports the progress of a transfer; see
 * #ImgxferTransferProgressFunc for where and when it is called. @notify
 * is called with @user_data when another function is set or the options
 * are finalized.
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
