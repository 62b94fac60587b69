/* imgxfer-open-options.c: how to open an image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-open-options.h>

struct _ImgxferOpenOptions
{
  GObject parent_instance;

  gboolean writable;
  char *format;
  char *member;
  char *bitmap;
  gboolean shallow;
  char *ca_file;
  gboolean insecure;
  char *proxy_url;
  guint connections;
  guint timeout;
  gboolean direct;
  gboolean allow_external_files;
  guint retries;
};

G_DEFINE_FINAL_TYPE (ImgxferOpenOptions, imgxfer_open_options, G_TYPE_OBJECT)

static void
imgxfer_open_options_finalize (GObject *object)
{
  ImgxferOpenOptions *self = IMGXFER_OPEN_OPTIONS (object);

  g_free (self->format);
  g_free (self->member);
  g_free (self->bitmap);
  g_free (self->ca_file);
  g_free (self->proxy_url);

  G_OBJECT_CLASS (imgxfer_open_options_parent_class)->finalize (object);
}

static void
imgxfer_open_options_class_init (ImgxferOpenOptionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = imgxfer_open_options_finalize;
}

static void
imgxfer_open_options_init (ImgxferOpenOptions *self)
{
  self->retries = IMGXFER_DEFAULT_RETRIES;
}

/**
 * imgxfer_open_options_new:
 *
 * Makes the default options: open read only, probe the format of a
 * source, no archive member, no bitmap, the whole backing chain, the
 * system's CA certificates, the driver's number of connections and
 * timeout, %IMGXFER_DEFAULT_RETRIES retries, the page cache.
 *
 * Returns: (transfer full): new options
 *
 * Since: 0.1
 */
ImgxferOpenOptions *
imgxfer_open_options_new (void)
{
  return g_object_new (IMGXFER_TYPE_OPEN_OPTIONS, NULL);
}

/**
 * imgxfer_open_options_copy:
 * @self: options
 *
 * Copies every option into a new object, so that changing one does not
 * change the other. A backend keeps such a copy of the options it was
 * opened with.
 *
 * Returns: (transfer full): an independent copy of @self
 *
 * Since: 0.1
 */
ImgxferOpenOptions *
imgxfer_open_options_copy (ImgxferOpenOptions *self)
{
  ImgxferOpenOptions *copy = imgxfer_open_options_new ();

  copy->writable = self->writable;
  copy->format = g_strdup (self->format);
  copy->member = g_strdup (self->member);
  copy->bitmap = g_strdup (self->bitmap);
  copy->shallow = self->shallow;
  copy->ca_file = g_strdup (self->ca_file);
  copy->insecure = self->insecure;
  copy->proxy_url = g_strdup (self->proxy_url);
  copy->connections = self->connections;
  copy->timeout = self->timeout;
  copy->direct = self->direct;
  copy->allow_external_files = self->allow_external_files;
  copy->retries = self->retries;

  return copy;
}

#define DEFINE_STRING_OPTION(name)                                           \
  void imgxfer_open_options_set_##name (ImgxferOpenOptions *self,           \
                                         const char *value)                  \
  {                                                                          \
    g_return_if_fail (IMGXFER_IS_OPEN_OPTIONS (self));                       \
    g_free (self->name);                                                     \
    self->name = g_strdup (value);                                           \
  }                                                                          \
  const char *imgxfer_open_options_get_##name (ImgxferOpenOptions *self)     \
  {                                                                          \
    g_return_val_if_fail (IMGXFER_IS_OPEN_OPTIONS (self), NULL);             \
    return self->name;                                                       \
  }

#define DEFINE_VALUE_OPTION(type, name)                                      \
  void imgxfer_open_options_set_##name (ImgxferOpenOptions *self,           \
                                         type value)                         \
  {                                                                          \
    g_return_if_fail (IMGXFER_IS_OPEN_OPTIONS (self));                       \
    self->name = value;                                                      \
  }                                                                          \
  type imgxfer_open_options_get_##name (ImgxferOpenOptions *self)            \
  {                                                                          \
    g_return_val_if_fail (IMGXFER_IS_OPEN_OPTIONS (self), 0);                \
    return self->name;                                                       \
  }

/* The accessors are generated; their documentation comes first. */

/**
 * imgxfer_open_options_set_writable:
 * @self: options
 * @writable: whether to open for writing (a destination)
 *
 * Sets whether the image is opened for writing. A driver that cannot
 * write the image fails to open it; a backend opened read only refuses
 * writes with %IMGXFER_ERROR_NOT_SUPPORTED. Default: %FALSE.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_writable:
 * @self: options
 *
 * Gets whether the image is opened for writing.
 *
 * Returns: whether the image is opened for writing
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_format:
 * @self: options
 * @format: (nullable): the image format ("raw", "qcow2"), or %NULL to probe a
 *   source and use raw for a destination
 *
 * Sets the format of the image, which picks the format driver stacked on
 * the protocol driver of the URL. A format is never probed for a
 * destination. Default: %NULL.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_format:
 * @self: options
 *
 * Gets the format of the image.
 *
 * Returns: (nullable): the image format, or %NULL when it is probed
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_member:
 * @self: options
 * @member: (nullable): the member of a tar/OVA archive holding the image, or
 *   %NULL for a plain image
 *
 * Sets the archive member that holds the image, the URL then naming the
 * archive: the driver that opens archive members reads it in place, and
 * a format driver reads the image's format inside it. Archive members are
 * read only. Default: %NULL.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_member:
 * @self: options
 *
 * Gets the archive member that holds the image.
 *
 * Returns: (nullable): the archive member, or %NULL
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_bitmap:
 * @self: options
 * @bitmap: (nullable): the dirty bitmap read in the
 *   %IMGXFER_EXTENT_CONTEXT_DIRTY context, or %NULL
 *
 * Sets the dirty bitmap of the image (a qcow2 or NBD bitmap) whose
 * ranges imgxfer_source_extents() reports in the dirty context, for an
 * incremental copy. Default: %NULL, no dirty context.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_bitmap:
 * @self: options
 *
 * Gets the dirty bitmap of the image.
 *
 * Returns: (nullable): the dirty bitmap, or %NULL
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_shallow:
 * @self: options
 * @shallow: whether to open only the top layer of a backing chain, reporting
 *   its unallocated ranges as holes
 *
 * Sets whether only the top layer of a backing chain is opened: its
 * unallocated ranges then read as zeroes and are reported as
 * %IMGXFER_EXTENT_HOLE, so that a shallow copy leaves them unallocated.
 * Default: %FALSE.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_shallow:
 * @self: options
 *
 * Gets whether only the top layer of a backing chain is opened.
 *
 * Returns: whether only the top layer is opened
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_ca_file:
 * @self: options
 * @ca_file: (nullable) (type filename): the CA certificates that TLS
 *   trusts, or %NULL for the system ones
 *
 * Sets the PEM file of the CA certificates that a TLS connection (https:,
 * nbds:) trusts instead of the system's. Default: %NULL.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_ca_file:
 * @self: options
 *
 * Gets the file of the CA certificates that TLS trusts.
 *
 * Returns: (nullable) (type filename): the CA file, or %NULL
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_insecure:
 * @self: options
 * @insecure: whether to skip TLS certificate verification
 *
 * Sets whether a TLS connection accepts any certificate. Only for tests
 * and throwaway servers: the server is then not authenticated. Default:
 * %FALSE.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_insecure:
 * @self: options
 *
 * Gets whether TLS certificates go unchecked.
 *
 * Returns: whether TLS certificates go unchecked
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_proxy_url:
 * @self: options
 * @proxy_url: (nullable): a second URL used when the first cannot be reached,
 *   or %NULL
 *
 * Sets the URL of the same image through a proxy (an imageio proxy),
 * used only when the image's own URL cannot be reached (a connection or
 * TLS failure, not an HTTP error), at once: that failure is then not
 * retried (imgxfer_open_options_set_retries()). Default: %NULL.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_proxy_url:
 * @self: options
 *
 * Gets the proxy URL of the image.
 *
 * Returns: (nullable): the proxy URL, or %NULL
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_connections:
 * @self: options
 * @connections: how many connections the caller means to clone (0: the driver's
 *   default)
 *
 * Tells the driver how many connections the caller means to use (the
 * backend and its clones), so that a driver that starts a server sizes it
 * accordingly. It does not raise imgxfer_backend_get_max_connections()
 * above what the image allows. Default: 0.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_connections:
 * @self: options
 *
 * Gets how many connections the caller means to use.
 *
 * Returns: the connections the caller means to clone, or 0
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_set_direct:
 * @self: options
 * @direct: whether to bypass the page cache (O_DIRECT) where the driver can
 *
 * Sets whether local files and block devices are read and written with
 * O_DIRECT, bypassing the page cache; requests are then bounced through
 * aligned buffers. Drivers of other images ignore it. Default: %FALSE.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_direct:
 * @self: options
 *
 * Gets whether the page cache is bypassed.
 *
 * Returns: whether the page cache is bypassed
 *
 * Since: 0.1
 */

DEFINE_VALUE_OPTION (gboolean, writable)
DEFINE_STRING_OPTION (format)
DEFINE_STRING_OPTION (member)
DEFINE_STRING_OPTION (bitmap)
DEFINE_VALUE_OPTION (gboolean, shallow)
DEFINE_STRING_OPTION (ca_file)
DEFINE_VALUE_OPTION (gboolean, insecure)
DEFINE_STRING_OPTION (proxy_url)
DEFINE_VALUE_OPTION (guint, connections)
/**
 * imgxfer_open_options_set_timeout:
 * @self: options
 * @timeout: how many seconds connecting to a server, and each request to
 *   it, may go without progress before the open or the request fails (0:
 *   the driver's default; the imageio driver waits 60 s)
 *
 * For images behind a server (an imageio server's https:// URL): a server
 * that stops reading or sending then fails the copy with an error that
 * says it timed out (%G_IO_ERROR_TIMED_OUT), instead of holding it.
 * Drivers of other images ignore it. Default: 0.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_timeout:
 * @self: options
 *
 * Gets how long a server may go without progress.
 *
 * Returns: the timeout in seconds, 0 for the driver's default
 *
 * Since: 0.1
 */
DEFINE_VALUE_OPTION (guint, timeout)
/**
 * imgxfer_open_options_set_allow_external_files:
 * @self: options
 * @allow: whether an image inside an archive may read files outside it
 *
 * An image in an archive (an OVA's disk) comes from whoever made the
 * archive, and its format can name any file of this host: a qcow2 backing
 * file or data file, a vmdk extent. Such an image is refused unless this
 * is set, so that importing an archive never copies a host file into an
 * image. Images outside archives are not concerned.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_allow_external_files:
 * @self: options
 *
 * Gets whether an image inside an archive may read files outside it.
 *
 * Returns: whether an image in an archive may read files outside it
 *
 * Since: 0.1
 */

/**
 * imgxfer_open_options_set_retries:
 * @self: options
 * @retries: how many times a request that failed in a way that may pass is
 *   sent again; 0 never
 *
 * The drivers of images behind servers (imageio, nbd) send a failed request
 * again, on a new connection, after a pause that doubles each time (a
 * quarter of a second first, ten seconds at most), when the failure may
 * pass: a connection refused, reset or closed, an HTTP answer 408, 429,
 * 502, 503 or 504, an NBD server's EIO; not a request that timed out
 * (imgxfer_open_options_set_timeout()), nor one to a host name that does
 * not exist. An answer that says the
 * request itself is wrong, or that the ticket is gone or expired (HTTP
 * 4xx), fails at once, as does an error of the image (no space). Each
 * retry is logged with g_message(): the request, why it failed, and its
 * number. Writes stay safe: a driver that replaced a connection holding
 * writes not flushed yet says so with %IMGXFER_ERROR_RECONNECTED, and
 * #ImgxferCopy writes them again before the request, up to @retries times
 * in a row.
 *
 * The default is %IMGXFER_DEFAULT_RETRIES.
 *
 * Since: 0.1
 */
/**
 * imgxfer_open_options_get_retries:
 * @self: options
 *
 * Gets how many times a driver sends a failed request again.
 *
 * Returns: how many times a failed request is sent again
 *
 * Since: 0.1
 */

DEFINE_VALUE_OPTION (gboolean, direct)
DEFINE_VALUE_OPTION (gboolean, allow_external_files)
DEFINE_VALUE_OPTION (guint, retries)
