/* imgxfer-backend.c: the base class of every driver's backend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>

#include "imgxfer-driver-private.h"
#include "imgxfer-range-private.h"

typedef struct
{
  char *url;
  ImgxferOpenOptions *options;

  guint64 size;
  ImgxferBackendCaps caps;
  guint32 min_block;
  guint32 preferred_block;
  guint32 max_block;
  guint max_connections;
  gboolean closed;

  /* During open only: the protocol level the library opened to probe the
   * format, for imgxfer_backend_open_protocol(). */
  ImgxferBackend *protocol;
} ImgxferBackendPrivate;

enum
{
  PROP_0,
  PROP_URL,
  PROP_OPTIONS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void imgxfer_backend_initable_iface_init (GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (
    ImgxferBackend, imgxfer_backend, G_TYPE_OBJECT,
    G_ADD_PRIVATE (ImgxferBackend) G_IMPLEMENT_INTERFACE (
        G_TYPE_INITABLE, imgxfer_backend_initable_iface_init))

#define DEFAULT_MAX_BLOCK (32 * 1024 * 1024)

static gboolean
imgxfer_backend_initable_init (GInitable *initable,
                               GCancellable *cancellable,
                               GError **error)
{
  ImgxferBackend *self = IMGXFER_BACKEND (initable);
  ImgxferBackendClass *klass = IMGXFER_BACKEND_GET_CLASS (self);

  if (klass->open == NULL)
    return _imgxfer_missing_vfunc (self, "open", error);
  return klass->open (self, cancellable, error);
}

static void
imgxfer_backend_initable_iface_init (GInitableIface *iface)
{
  iface->init = imgxfer_backend_initable_init;
}

static ImgxferBackend *
imgxfer_backend_real_clone (ImgxferBackend *self,
                            GCancellable *cancellable,
                            GError **error)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  return g_initable_new (G_OBJECT_TYPE (self), cancellable, error,
                         "url", priv->url,
                         "options", priv->options,
                         NULL);
}

/* A backend nobody closed is closed with its last reference, so that its
 * helper processes stop; the error has nowhere to go but the debug log. */
static void
imgxfer_backend_dispose (GObject *object)
{
  ImgxferBackend *self = IMGXFER_BACKEND (object);
  g_autoptr (GError) error = NULL;

  if (!imgxfer_backend_close (self, IMGXFER_CLOSE_NONE, NULL, &error))
    g_debug ("%s: closing on the last reference: %s",
             imgxfer_backend_get_url (self), error->message);

  G_OBJECT_CLASS (imgxfer_backend_parent_class)->dispose (object);
}

static gboolean
imgxfer_backend_real_get_local_files (ImgxferBackend *self, GPtrArray *files,
                                      GCancellable *cancellable, GError **error)
{
  char *path = NULL;

  if (imgxfer_backend_get_local_file (self, &path, NULL, NULL))
    g_ptr_array_add (files, path);
  return TRUE;
}

static void
imgxfer_backend_finalize (GObject *object)
{
  ImgxferBackend *self = IMGXFER_BACKEND (object);
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_free (priv->url);
  g_clear_object (&priv->options);
  g_clear_object (&priv->protocol);

  G_OBJECT_CLASS (imgxfer_backend_parent_class)->finalize (object);
}

static void
imgxfer_backend_get_property (GObject *object,
                              guint prop_id,
                              GValue *value,
                              GParamSpec *pspec)
{
  ImgxferBackend *self = IMGXFER_BACKEND (object);
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, priv->url);
      break;
    case PROP_OPTIONS:
      g_value_set_object (value, priv->options);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
imgxfer_backend_set_property (GObject *object,
                              guint prop_id,
                              const GValue *value,
                              GParamSpec *pspec)
{
  ImgxferBackend *self = IMGXFER_BACKEND (object);
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_URL:
      priv->url = g_value_dup_string (value);
      break;
    case PROP_OPTIONS:
      /* Options are copied so that the caller may change its object
       * without affecting open backends and their clones. */
      if (g_value_get_object (value) != NULL)
        priv->options = imgxfer_open_options_copy (g_value_get_object (value));
      else
        priv->options = imgxfer_open_options_new ();
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
imgxfer_backend_class_init (ImgxferBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = imgxfer_backend_dispose;
  object_class->finalize = imgxfer_backend_finalize;
  object_class->get_property = imgxfer_backend_get_property;
  object_class->set_property = imgxfer_backend_set_property;

  klass->clone = imgxfer_backend_real_clone;
  klass->get_local_files = imgxfer_backend_real_get_local_files;

  /**
   * ImgxferBackend:url:
   *
   * The path or URL of the image, as given to imgxfer_open(): the driver
   * parses it when it opens.
   *
   * Since: 0.1
   */
  properties[PROP_URL] = g_param_spec_string (
      "url", NULL, NULL, NULL,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ImgxferBackend:options:
   *
   * How the image is opened; the backend keeps a copy, so that the
   * caller may change its object afterwards. %NULL stands for new default
   * options.
   *
   * Since: 0.1
   */
  properties[PROP_OPTIONS] = g_param_spec_object (
      "options", NULL, NULL, IMGXFER_TYPE_OPEN_OPTIONS,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
imgxfer_backend_init (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  priv->min_block = 1;
  priv->preferred_block = 4096;
  priv->max_block = DEFAULT_MAX_BLOCK;
  priv->max_connections = 1;
}

/**
 * imgxfer_backend_get_url:
 * @self: a backend
 *
 * Gets the path or URL the backend was opened with (#ImgxferBackend:url),
 * as it was given: for messages, and for drivers, which parse it in their
 * open vfunc.
 *
 * Returns: (transfer none): the path or URL
 *
 * Since: 0.1
 */
const char *
imgxfer_backend_get_url (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), NULL);
  return priv->url;
}

/**
 * imgxfer_backend_get_options:
 * @self: a backend
 *
 * Gets the options the backend was opened with (#ImgxferBackend:options):
 * the backend's own copy, shared with nobody but the backend. A driver
 * reads the options that concern it and ignores the others.
 *
 * Returns: (transfer none): the options; do not change them
 *
 * Since: 0.1
 */
ImgxferOpenOptions *
imgxfer_backend_get_options (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), NULL);
  return priv->options;
}

/**
 * imgxfer_backend_get_size:
 * @self: a backend
 *
 * Gets the virtual size of the image, as the driver declared it with
 * imgxfer_backend_set_size() when it opened.
 *
 * Returns: the size in bytes
 *
 * Since: 0.1
 */
guint64
imgxfer_backend_get_size (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), 0);
  return priv->size;
}

/**
 * imgxfer_backend_get_caps:
 * @self: a backend
 *
 * Gets what the backend can do, as the driver declared it with
 * imgxfer_backend_set_caps() when it opened.
 *
 * Returns: the capabilities
 *
 * Since: 0.1
 */
ImgxferBackendCaps
imgxfer_backend_get_caps (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), 0);
  return priv->caps;
}

/**
 * imgxfer_backend_get_block_sizes:
 * @self: a backend
 * @minimum: (out) (optional): smallest request the backend takes
 * @preferred: (out) (optional): request size that avoids read-modify-write
 * @maximum: (out) (optional): largest request the backend takes
 *
 * Gets the request sizes the driver declared with
 * imgxfer_backend_set_block_sizes(); a driver that declared none has 1,
 * 4096 and 32 MiB. imgxfer_source_pread() and imgxfer_destination_pwrite()
 * refuse requests above @maximum.
 *
 * Since: 0.1
 */
void
imgxfer_backend_get_block_sizes (ImgxferBackend *self,
                                 guint32 *minimum,
                                 guint32 *preferred,
                                 guint32 *maximum)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_if_fail (IMGXFER_IS_BACKEND (self));
  if (minimum)
    *minimum = priv->min_block;
  if (preferred)
    *preferred = priv->preferred_block;
  if (maximum)
    *maximum = priv->max_block;
}

/**
 * imgxfer_backend_get_max_connections:
 * @self: a backend
 *
 * Gets how many connections to the image (this one and its clones) may be
 * used at once, as the driver declared it; 1 when it declared nothing. The
 * copy engine and imgxfer_checksum_compute() never use more.
 *
 * Returns: the number of connections, at least 1
 *
 * Since: 0.1
 */
guint
imgxfer_backend_get_max_connections (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), 1);
  return priv->max_connections;
}

/**
 * imgxfer_backend_set_size:
 * @self: a backend
 * @size: the virtual size in bytes
 *
 * Declares the virtual size of the image. For drivers, from their open
 * vfunc; the role wrappers check every request against it.
 *
 * Since: 0.1
 */
void
imgxfer_backend_set_size (ImgxferBackend *self, guint64 size)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_if_fail (IMGXFER_IS_BACKEND (self));
  priv->size = size;
}

/**
 * imgxfer_backend_set_caps:
 * @self: a backend
 * @caps: what the backend can do
 *
 * Declares what the backend can do. For drivers, from their open vfunc:
 * capabilities are data, declared once, so that the library need not try
 * a request to learn whether it works.
 *
 * Since: 0.1
 */
void
imgxfer_backend_set_caps (ImgxferBackend *self, ImgxferBackendCaps caps)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_if_fail (IMGXFER_IS_BACKEND (self));
  priv->caps = caps;
}

/**
 * imgxfer_backend_set_block_sizes:
 * @self: a backend
 * @minimum: smallest request, a power of two; 0 stands for 1
 * @preferred: preferred request granularity, a power of two; raised to
 *   @minimum when smaller
 * @maximum: largest request; 0 keeps the default (32 MiB), which is also
 *   the most that can be declared
 *
 * Declares the request sizes the image takes. For drivers, from their
 * open vfunc.
 *
 * Since: 0.1
 */
void
imgxfer_backend_set_block_sizes (ImgxferBackend *self,
                                 guint32 minimum,
                                 guint32 preferred,
                                 guint32 maximum)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_if_fail (IMGXFER_IS_BACKEND (self));
  priv->min_block = MAX (minimum, 1);
  priv->preferred_block = MAX (preferred, priv->min_block);
  priv->max_block = maximum ? MIN (maximum, DEFAULT_MAX_BLOCK)
                            : DEFAULT_MAX_BLOCK;
}

/**
 * imgxfer_backend_set_max_connections:
 * @self: a backend
 * @max_connections: how many connections the image allows; 0 stands for 1
 *
 * Declares how many connections to the image may be used at once. For
 * drivers, from their open vfunc; the default is 1.
 *
 * Since: 0.1
 */
void
imgxfer_backend_set_max_connections (ImgxferBackend *self,
                                     guint max_connections)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_if_fail (IMGXFER_IS_BACKEND (self));
  priv->max_connections = MAX (max_connections, 1);
}

/**
 * imgxfer_backend_clone:
 * @self: an open backend
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens another connection to the same image with the same options, for
 * another thread (#ImgxferBackendClass.clone). Fails with
 * %G_IO_ERROR_CLOSED when @self is closed, and with whatever opening the
 * image fails with.
 *
 * Returns: (transfer full): the new backend, or %NULL with @error set
 *
 * Since: 0.1
 */
ImgxferBackend *
imgxfer_backend_clone (ImgxferBackend *self,
                       GCancellable *cancellable,
                       GError **error)
{
  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), NULL);

  if (!_imgxfer_check_open (self, "clone", error))
    return NULL;
  return IMGXFER_BACKEND_GET_CLASS (self)->clone (self, cancellable, error);
}

void
_imgxfer_backend_hand_protocol (ImgxferBackend *self, ImgxferBackend *protocol)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_clear_object (&priv->protocol);
  priv->protocol = protocol;
}

ImgxferBackend *
_imgxfer_backend_take_back_protocol (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  return g_steal_pointer (&priv->protocol);
}

/**
 * imgxfer_backend_open_protocol:
 * @self: a format driver's backend, from its open vfunc
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the protocol level of the image, the bytes that the format is
 * read from, as raw data (a local file, a member of an archive), with the
 * backend's URL and options. When the library has just opened it to
 * probe the format, that one is handed over instead of opening it again
 * (an archive is not scanned twice); it can be had once.
 *
 * Returns: (transfer full): the protocol level, which the caller closes
 *
 * Since: 0.1
 */
ImgxferBackend *
imgxfer_backend_open_protocol (ImgxferBackend *self, GCancellable *cancellable,
                               GError **error)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);
  g_autoptr (ImgxferOpenOptions) raw_options = NULL;

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), NULL);

  if (priv->protocol != NULL)
    return g_steal_pointer (&priv->protocol);
  raw_options = priv->options ? imgxfer_open_options_copy (priv->options)
                             : imgxfer_open_options_new ();
  imgxfer_open_options_set_format (raw_options, "raw");
  return imgxfer_open (priv->url, raw_options, cancellable, error);
}

/**
 * imgxfer_backend_close:
 * @self: a backend
 * @flags: whether to flush first
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Ends the connection and says whether it ended well: with
 * %IMGXFER_CLOSE_FLUSH a writable backend is flushed first, then the
 * driver stops what it started (a qemu-nbd child) and reports what failed
 * meanwhile. The backend is closed even when an error is returned, and
 * every later request fails with %G_IO_ERROR_CLOSED. Closing a closed
 * backend does nothing and succeeds. A backend that is not closed is
 * closed without flushing when its last reference goes, its errors lost:
 * call this to learn them. Clones are closed separately.
 *
 * Returns: %TRUE when everything written is where it belongs (durable,
 *   with %IMGXFER_CLOSE_FLUSH) and the helpers stopped cleanly
 *
 * Since: 0.1
 */
gboolean
imgxfer_backend_close (ImgxferBackend *self, ImgxferCloseFlags flags,
                       GCancellable *cancellable, GError **error)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);
  ImgxferBackendClass *klass;
  g_autoptr (GError) flush_error = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), FALSE);

  if (priv->closed)
    return TRUE;

  /* The helpers stop even when the flush fails: the first error is the
   * one returned. */
  if ((flags & IMGXFER_CLOSE_FLUSH) && IMGXFER_IS_DESTINATION (self)
      && (priv->caps & IMGXFER_BACKEND_CAN_WRITE))
    ok = imgxfer_destination_flush (IMGXFER_DESTINATION (self), cancellable,
                                    &flush_error);

  klass = IMGXFER_BACKEND_GET_CLASS (self);
  priv->closed = TRUE;
  if (klass->close != NULL
      && !klass->close (self, cancellable, ok ? error : NULL))
    ok = FALSE;

  if (flush_error)
    g_propagate_error (error, g_steal_pointer (&flush_error));
  return ok;
}

/**
 * imgxfer_backend_is_closed:
 * @self: a backend
 *
 * Tells whether the backend was closed; no request reaches a closed
 * backend's driver.
 *
 * Returns: %TRUE once imgxfer_backend_close() was called
 *
 * Since: 0.1
 */
gboolean
imgxfer_backend_is_closed (ImgxferBackend *self)
{
  ImgxferBackendPrivate *priv = imgxfer_backend_get_instance_private (self);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), TRUE);
  return priv->closed;
}

/**
 * imgxfer_backend_get_local_file:
 * @self: an open backend
 * @path: (out) (optional) (transfer full) (type filename): the local file
 *   holding the image's bytes
 * @offset: (out) (optional): where they start in it
 * @size: (out) (optional): how many there are
 *
 * Tells whether the image's bytes are a byte range of a local file (a
 * file, a member of an archive), so that a format driver can be stacked on
 * top of it (#ImgxferBackendClass.get_local_file). The out arguments are
 * set only when it returns %TRUE.
 *
 * Returns: %TRUE when the image is a byte range of a local file
 *
 * Since: 0.1
 */
gboolean
imgxfer_backend_get_local_file (ImgxferBackend *self,
                                char **path,
                                guint64 *offset,
                                guint64 *size)
{
  ImgxferBackendClass *klass;

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), FALSE);

  klass = IMGXFER_BACKEND_GET_CLASS (self);
  if (klass->get_local_file == NULL)
    return FALSE;
  return klass->get_local_file (self, path, offset, size);
}

/**
 * imgxfer_backend_get_local_files:
 * @self: an open backend
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Lists the local files that reading the image reads: the image file,
 * each file of its backing chain, an external data file, the archive
 * holding a member. A destination must be none of them. Images that are
 * not local list none.
 *
 * Returns: (transfer full) (array zero-terminated=1): their paths, in any
 *   spelling (compare devices and inodes), or %NULL with @error set
 *
 * Since: 0.1
 */
char **
imgxfer_backend_get_local_files (ImgxferBackend *self,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (IMGXFER_IS_BACKEND (self), NULL);

  if (!IMGXFER_BACKEND_GET_CLASS (self)->get_local_files (self, files,
                                                          cancellable, error))
    return NULL;
  g_ptr_array_add (files, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&files), FALSE);
}
