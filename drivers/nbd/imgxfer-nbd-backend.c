/* imgxfer-nbd-backend.c: images on NBD servers
 *
 * A libnbd client. Extents come from "base:allocation" (zero) combined
 * with "qemu:allocation-depth" (hole: depth 0; opened shallow, any depth
 * but 1, the export's top layer) or with a "qemu:dirty-bitmap:NAME"
 * context (dirty). NBD_STATE_HOLE is never
 * used: since qemu 6.0 it means "reads as zero and no data", not "not
 * allocated in this layer", so trusting it would drop clusters that hide
 * a backing file. Zeroing is always WRITE_ZEROES, never TRIM.
 *
 * A command that fails in a way that may pass is sent again, a bounded
 * number of times, after a pause (imgxfer_open_options_set_retries()):
 * an EIO from the server (a flaky disk under it), or the connection lost.
 * While the connection works, the command goes again on it: a new one
 * would reach the same server, and would lose the cover of this
 * connection's writes, which an NBD flush gives only for the writes of
 * its own connection unless the server offers multi-conn. A lost
 * connection is replaced by a new one. When writes acknowledged on it
 * wait for a flush, the command is not sent: such a write is durable
 * only if the server still holds it, and a server that restarted
 * meanwhile (its qcow2 tables lost with its memory) would not, while a
 * flush on the new connection would say all is well. The command fails
 * with IMGXFER_ERROR_RECONNECTED instead, and the caller (the copy
 * engine) writes those writes again before sending it again; the
 * retries made so far carry over to those commands, so that the pauses
 * keep growing and their number stays bounded while the server is away.
 * Reads, block status and a destination that was just flushed lose
 * nothing, so they simply go on through a new connection.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libnbd.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "imgxfer-nbd-backend.h"

#include "../common/imgxfer-retry.h"

#define BASE_ALLOCATION "base:allocation"
#define ALLOCATION_DEPTH "qemu:allocation-depth"
#define DIRTY_BITMAP_PREFIX "qemu:dirty-bitmap:"

/* The NBD protocol's request limit, and what some servers refuse above. */
#define NBD_MAX_REQUEST (32 * 1024 * 1024)
/* One block status request: the length field is 32 bits. */
#define MAX_EXTENTS_REQUEST (1024 * 1024 * 1024)
/* How long a server may take to answer the handshake, and how often a
 * waiting connect or request looks at its cancellable. */
#define HANDSHAKE_TIMEOUT_US (30 * G_USEC_PER_SEC)
/* How long a clone waits for the server's greeting, which a server sends
 * as soon as it accepts a client. The server has just greeted the first
 * connection, so silence means that it does not serve this one: qemu-nbd
 * beyond its --shared limit leaves the client in the listen backlog until
 * another one leaves. The copy goes on with the connections it has, so
 * waiting longer would only delay it. Long enough for two lost SYNs. */
#define CLONE_GREETING_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define POLL_INTERVAL_MS 100
/* Connections used when the server allows several (multi-conn). */
#define MULTI_CONN_CONNECTIONS 8

/* A temporary directory, removed with its content by g_autoptr. */
typedef char CaDirectory;

typedef struct
{
  struct nbd_handle *nbd;
  /* Negotiated meta contexts; NULL when the server does not offer them. */
  const char *depth_context;
  /* Opened shallow: what the top layer does not allocate is a hole. */
  gboolean top_only;
  char *dirty_context;
  /* A cancelled request was left in flight: its reply would land in a
   * buffer the caller has freed, so the handle is never polled again. */
  gboolean abandoned;
  /* How long connecting waits for the server's greeting. */
  gint64 greeting_timeout_us;
  /* Where the connection goes, for a new one after it is lost. */
  char *uri;
  /* A write or zero acknowledged since the last flush: see the top. */
  gboolean unflushed;
  /* Retries in a row: back to 0 when a command succeeds. */
  guint failures;
  /* The errno and message of the last failed command, for a retry. */
  int last_errno;
  char *last_reason;
} ImgxferNbdBackendPrivate;

static void imgxfer_nbd_backend_source_init (ImgxferSourceInterface *iface);
static void
imgxfer_nbd_backend_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_TYPE_WITH_CODE (
    ImgxferNbdBackend, imgxfer_nbd_backend, IMGXFER_TYPE_BACKEND,
    G_ADD_PRIVATE (ImgxferNbdBackend)
        G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE,
                               imgxfer_nbd_backend_source_init)
            G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                                   imgxfer_nbd_backend_destination_init))

static const char *
url_of (gpointer self)
{
  return imgxfer_backend_get_url (IMGXFER_BACKEND (self));
}

/* libnbd keeps the last error per thread. A server of our own may say
 * why (qemu-nbd: "Image is corrupt"). */
static gboolean
set_nbd_error (GError **error, gpointer self, const char *what, guint64 offset)
{
  ImgxferNbdBackendClass *klass = IMGXFER_NBD_BACKEND_GET_CLASS (self);
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (IMGXFER_NBD_BACKEND (self));
  int err = nbd_get_errno ();
  g_autofree char *message = g_strdup (nbd_get_error ());
  g_autofree char *server
      = klass->get_server_messages ? klass->get_server_messages (self) : NULL;

  priv->last_errno = err;
  g_free (priv->last_reason);
  priv->last_reason = g_strdup (message ? message : "unknown NBD error");

  g_set_error (
      error, G_IO_ERROR, err ? g_io_error_from_errno (err) : G_IO_ERROR_FAILED,
      "%s: %s at offset %" G_GUINT64_FORMAT " failed: %s%s%s%s", url_of (self),
      what, offset, message ? message : "unknown NBD error",
      server && *server ? " (" : "", server ? server : "",
      server && *server ? ")" : "");
  return FALSE;
}

static gboolean
request_meta_contexts (ImgxferNbdBackend *self, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  const char *bitmap = imgxfer_open_options_get_bitmap (
      imgxfer_backend_get_options (IMGXFER_BACKEND (self)));

  /* With libnbd 1.14 contexts are requested before connecting; which ones
   * the server agreed to is asked afterwards. Asking for a context the
   * server does not know is harmless. Whether a raw export offers
   * allocation-depth is its server's choice (imageio and the qemu driver
   * start qemu-nbd with --allocation-depth for other formats only). */
  if (nbd_add_meta_context (priv->nbd, BASE_ALLOCATION) < 0
      || nbd_add_meta_context (priv->nbd, ALLOCATION_DEPTH) < 0)
    return set_nbd_error (error, self, "meta context request", 0);

  if (bitmap != NULL)
    {
      g_free (priv->dirty_context);
      priv->dirty_context = g_strconcat (DIRTY_BITMAP_PREFIX, bitmap, NULL);
      if (nbd_add_meta_context (priv->nbd, priv->dirty_context) < 0)
        return set_nbd_error (error, self, "meta context request", 0);
    }
  return TRUE;
}

/* A shallow source must tell its top layer's holes from its zeroes.
 * A raw export has one layer: all of it is the top. */
static gboolean
check_shallow (ImgxferNbdBackend *self, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  ImgxferOpenOptions *options
      = imgxfer_backend_get_options (IMGXFER_BACKEND (self));
  const char *format = imgxfer_open_options_get_format (options);

  if (!imgxfer_open_options_get_shallow (options)
      || (format != NULL && g_ascii_strcasecmp (format, "raw") == 0))
    return TRUE;
  if (priv->depth_context == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: a shallow source needs the NBD server's "
                   "\"" ALLOCATION_DEPTH "\" context to tell the top "
                   "layer's holes from its zeroes; the server does not "
                   "offer it (qemu-nbd --allocation-depth does)",
                   url_of (self));
      return FALSE;
    }
  priv->top_only = TRUE;
  return TRUE;
}

static gboolean
check_meta_contexts (ImgxferNbdBackend *self, ImgxferBackendCaps *caps,
                     GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  if (nbd_can_meta_context (priv->nbd, BASE_ALLOCATION) == 1)
    *caps |= IMGXFER_BACKEND_CAN_EXTENTS;
  if (nbd_can_meta_context (priv->nbd, ALLOCATION_DEPTH) == 1)
    priv->depth_context = ALLOCATION_DEPTH;
  if (!check_shallow (self, error))
    return FALSE;

  if (priv->dirty_context == NULL)
    return TRUE;

  /* Dirty extents carry their zero flag from base:allocation. */
  if (nbd_can_meta_context (priv->nbd, priv->dirty_context) != 1
      || !(*caps & IMGXFER_BACKEND_CAN_EXTENTS))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_FOUND,
                   "%s: the NBD server offers no dirty bitmap \"%s\"",
                   url_of (self),
                   priv->dirty_context + strlen (DIRTY_BITMAP_PREFIX));
      return FALSE;
    }
  *caps |= IMGXFER_BACKEND_CAN_DIRTY;
  return TRUE;
}

static guint32
block_size (struct nbd_handle *nbd, int which, guint32 fallback)
{
  int64_t size = nbd_get_block_size (nbd, which);

  return size > 0 ? (guint32)MIN (size, G_MAXUINT32) : fallback;
}

static gboolean
declare_export (ImgxferNbdBackend *self, GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  gboolean writable = imgxfer_open_options_get_writable (
      imgxfer_backend_get_options (backend));
  ImgxferBackendCaps caps = 0;
  int64_t size = nbd_get_size (priv->nbd);

  if (size < 0)
    return set_nbd_error (error, self, "size query", 0);

  if (writable && nbd_is_read_only (priv->nbd) == 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                   "%s: the NBD server exports the image read-only",
                   url_of (self));
      return FALSE;
    }

  if (!check_meta_contexts (self, &caps, error))
    return FALSE;

  if (writable)
    caps |= IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_MAY_RECONNECT;
  if (nbd_can_zero (priv->nbd) == 1)
    caps |= IMGXFER_BACKEND_CAN_ZERO;
  if (nbd_can_flush (priv->nbd) == 1)
    caps |= IMGXFER_BACKEND_CAN_FLUSH;

  imgxfer_backend_set_size (backend, size);
  imgxfer_backend_set_caps (backend, caps);
  imgxfer_backend_set_block_sizes (
      backend, block_size (priv->nbd, LIBNBD_SIZE_MINIMUM, 1),
      block_size (priv->nbd, LIBNBD_SIZE_PREFERRED, 4096),
      MIN (block_size (priv->nbd, LIBNBD_SIZE_MAXIMUM, NBD_MAX_REQUEST),
           NBD_MAX_REQUEST));
  /* Without multi-conn, writes on one connection may not be seen (or
   * flushed) by another, and qemu-nbd serves one client by default. */
  imgxfer_backend_set_max_connections (
      backend,
      nbd_can_multi_conn (priv->nbd) == 1 ? MULTI_CONN_CONNECTIONS : 1);
  return TRUE;
}

/* libnbd takes a directory holding "ca-cert.pem", not a CA file: a
 * private directory with a link to the file stands in for the time of the
 * handshake. */
static char *
make_ca_directory (ImgxferNbdBackend *self, const char *ca_file, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *absolute = g_canonicalize_filename (ca_file, NULL);
  g_autofree char *dir = g_dir_make_tmp ("imgxfer-ca-XXXXXX", &local_error);
  g_autofree char *link = NULL;

  if (dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, local_error->code,
                   "%s: cannot use CA file %s: %s", url_of (self), ca_file,
                   local_error->message);
      return NULL;
    }
  link = g_build_filename (dir, "ca-cert.pem", NULL);
  if (symlink (absolute, link) < 0)
    {
      int saved_errno = errno;

      g_rmdir (dir);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot use CA file %s: %s", url_of (self), ca_file,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&dir);
}

static void
remove_ca_directory (char *dir)
{
  g_autofree char *link = g_build_filename (dir, "ca-cert.pem", NULL);

  g_unlink (link);
  g_rmdir (dir);
  g_free (dir);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CaDirectory, remove_ca_directory)

/* nbds:// URIs turn TLS on by themselves; trust is ours to set. */
static gboolean
configure_tls (ImgxferNbdBackend *self, CaDirectory **ca_dir, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  ImgxferOpenOptions *options
      = imgxfer_backend_get_options (IMGXFER_BACKEND (self));
  const char *ca_file = imgxfer_open_options_get_ca_file (options);

  if (imgxfer_open_options_get_insecure (options)
      && nbd_set_tls_verify_peer (priv->nbd, false) < 0)
    return set_nbd_error (error, self, "TLS setup", 0);

  if (ca_file == NULL)
    return TRUE;
  *ca_dir = make_ca_directory (self, ca_file, error);
  if (*ca_dir == NULL)
    return FALSE;
  if (nbd_set_tls_certificates (priv->nbd, *ca_dir) < 0)
    return set_nbd_error (error, self, "TLS setup", 0);
  return TRUE;
}

static gboolean
set_connect_error (GError **error, gpointer self)
{
  int err = nbd_get_errno ();

  g_set_error (error, G_IO_ERROR,
               err ? g_io_error_from_errno (err) : G_IO_ERROR_FAILED,
               "Cannot connect to %s: %s", url_of (self), nbd_get_error ());
  return FALSE;
}

/* Polls while libnbd is connecting, up to @timeout_us after @start. */
static gboolean
wait_while_connecting (ImgxferNbdBackend *self, gint64 start, gint64 timeout_us,
                       const char *awaited, GCancellable *cancellable,
                       GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  while (nbd_aio_is_connecting (priv->nbd) == 1)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (g_get_monotonic_time () - start > timeout_us)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "Cannot connect to %s: no NBD %s within %d s",
                       url_of (self), awaited,
                       (int)(timeout_us / G_USEC_PER_SEC));
          return FALSE;
        }
      if (nbd_poll (priv->nbd, POLL_INTERVAL_MS) < 0)
        return set_connect_error (error, self);
    }
  return TRUE;
}

/* The handshake, bounded in time and cancellable: a server may accept
 * the socket and never answer, as qemu-nbd does with more clients than
 * its --shared limit. In option mode libnbd stops once the server has
 * greeted (after TLS), so the wait for the greeting, which tells whether
 * the server serves this client at all, has its own bound; the rest
 * (opening the export, which may take a plugin seconds) has the whole
 * handshake's. An oldstyle server goes straight to ready. */
static gboolean
connect_uri (ImgxferNbdBackend *self, const char *uri,
             GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  gint64 start = g_get_monotonic_time ();

  if (nbd_set_opt_mode (priv->nbd, true) < 0
      || nbd_aio_connect_uri (priv->nbd, uri) < 0)
    return set_connect_error (error, self);

  if (!wait_while_connecting (self, start, priv->greeting_timeout_us,
                              "greeting", cancellable, error))
    return FALSE;

  if (nbd_aio_is_negotiating (priv->nbd) == 1)
    {
      if (nbd_aio_opt_go (priv->nbd, NBD_NULL_COMPLETION) < 0)
        return set_connect_error (error, self);
      if (!wait_while_connecting (self, start, HANDSHAKE_TIMEOUT_US,
                                  "handshake", cancellable, error))
        return FALSE;
    }

  if (nbd_aio_is_ready (priv->nbd) != 1)
    {
      /* libnbd said why in this thread's error while polling. A refused
       * NBD_OPT_GO leaves the handle negotiating: say goodbye, as libnbd
       * does by itself outside option mode. */
      set_connect_error (error, self);
      if (nbd_aio_is_negotiating (priv->nbd) == 1)
        nbd_opt_abort (priv->nbd);
      return FALSE;
    }
  return TRUE;
}

/* A new handle connected to priv->uri, with the contexts and TLS of the
 * first one. */
static gboolean
connect_handle (ImgxferNbdBackend *self, GCancellable *cancellable,
                GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  g_autoptr (ImgxferUrl) parsed = NULL;
  g_autoptr (CaDirectory) ca_dir = NULL;

  /* libnbd knows the URI forms only, with lower-case schemes. */
  parsed = imgxfer_url_parse (priv->uri, error);
  if (parsed == NULL)
    return FALSE;

  priv->nbd = nbd_create ();
  if (priv->nbd == NULL)
    return set_nbd_error (error, self, "connect", 0);

  return request_meta_contexts (self, error)
         && configure_tls (self, &ca_dir, error)
         && connect_uri (self, imgxfer_url_to_string (parsed), cancellable,
                         error);
}

gboolean
_imgxfer_nbd_backend_connect (ImgxferNbdBackend *self, const char *uri,
                              GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  g_return_val_if_fail (priv->nbd == NULL, FALSE);

  priv->uri = g_strdup (uri);
  return connect_handle (self, cancellable, error)
         && declare_export (self, error);
}

static gboolean
imgxfer_nbd_backend_open (ImgxferBackend *backend, GCancellable *cancellable,
                          GError **error)
{
  return _imgxfer_nbd_backend_connect (IMGXFER_NBD_BACKEND (backend),
                                       imgxfer_backend_get_url (backend),
                                       cancellable, error);
}

/* A clone waits only briefly for the server to greet it (see
 * CLONE_GREETING_TIMEOUT_US): a copy asks for clones, and takes fewer
 * connections than it asked for when the server serves fewer. */
static ImgxferBackend *
imgxfer_nbd_backend_clone (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  g_autoptr (ImgxferBackend) clone = NULL;
  ImgxferNbdBackendPrivate *clone_priv;

  clone = g_object_new (G_OBJECT_TYPE (backend), "url",
                        imgxfer_backend_get_url (backend), "options",
                        imgxfer_backend_get_options (backend), NULL);
  clone_priv
      = imgxfer_nbd_backend_get_instance_private (IMGXFER_NBD_BACKEND (clone));
  clone_priv->greeting_timeout_us = CLONE_GREETING_TIMEOUT_US;
  if (!g_initable_init (G_INITABLE (clone), cancellable, error))
    return NULL;
  return g_steal_pointer (&clone);
}

/* Waits for the command @cookie, or gives it up when @cancellable fires
 * (the sync libnbd calls cannot be interrupted: a stalled server would
 * hold a cancelled copy for a TCP timeout). */
static gboolean
wait_for_command (gpointer self, int64_t cookie, const char *what,
                  guint64 offset, GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (IMGXFER_NBD_BACKEND (self));

  if (cookie < 0)
    return set_nbd_error (error, self, what, offset);

  for (;;)
    {
      int done = nbd_aio_command_completed (priv->nbd, cookie);

      if (done == 1)
        return TRUE;
      if (done < 0)
        return set_nbd_error (error, self, what, offset);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          priv->abandoned = TRUE;
          return FALSE;
        }
      if (nbd_poll (priv->nbd, POLL_INTERVAL_MS) < 0)
        return set_nbd_error (error, self, what, offset);
    }
}

/* After a cancelled request nothing more goes through this connection. */
static gboolean
check_usable (gpointer self, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (IMGXFER_NBD_BACKEND (self));

  if (!priv->abandoned)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
               "%s: the connection was given up after a cancelled request",
               url_of (self));
  return FALSE;
}

/* What a command does to the data, for what a retry may do. */
typedef enum
{
  COMMAND_READS,
  COMMAND_WRITES,
  COMMAND_FLUSHES,
} CommandKind;

/* One command: how to start it on a handle (its cookie, or -1), what it
 * is called in errors and in the log. */
typedef struct
{
  const char *what;
  CommandKind kind;
  guint64 offset;
  guint64 length;
  int64_t (*start) (struct nbd_handle *nbd, gpointer args);
  gpointer args;
} Command;

/* Errors of a server that may not come again: its disk failed this once,
 * or the connection went. The others (ENOSPC, EINVAL, EPERM, ENOTSUP...)
 * would come again. */
static gboolean
errno_may_pass (int err)
{
  switch (err)
    {
    case EIO:
    case ECONNRESET:
    case ECONNABORTED:
    case ECONNREFUSED:
    case ENOTCONN:
    case EPIPE:
    case ESHUTDOWN:
    case ETIMEDOUT:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_connected (ImgxferNbdBackendPrivate *priv)
{
  return priv->nbd != NULL && nbd_aio_is_ready (priv->nbd) == 1;
}

/* See the top of the file. */
static gboolean
may_retry (ImgxferNbdBackend *self, GError *error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  if (priv->abandoned
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  if (!is_connected (priv))
    return TRUE;
  return errno_may_pass (priv->last_errno);
}

/* A new connection in place of a lost one, to the same export. */
static gboolean
replace_connection (ImgxferNbdBackend *self, GCancellable *cancellable,
                    GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  g_clear_pointer (&priv->nbd, nbd_close);
  if (!connect_handle (self, cancellable, error))
    return FALSE;
  if (nbd_get_size (priv->nbd)
      != (int64_t)imgxfer_backend_get_size (IMGXFER_BACKEND (self)))
    {
      priv->abandoned = TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s: the export changed size on a new connection",
                   url_of (self));
      return FALSE;
    }
  return TRUE;
}

/* Runs @command once; on a new connection if @retrying and the one in
 * use was lost. A lost connection is not replaced otherwise: a command
 * that comes after a failure not retried (a flush after writes were lost
 * with their connection) must fail too. */
static gboolean
run_once (ImgxferNbdBackend *self, const Command *command, gboolean retrying,
          GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  priv->last_errno = 0;
  if (!check_usable (self, error))
    return FALSE;
  if (priv->nbd == NULL && !retrying)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                   "%s: %s: no connection to the server", url_of (self),
                   command->what);
      return FALSE;
    }
  return (is_connected (priv) || !retrying
          || replace_connection (self, cancellable, error))
         && wait_for_command (self, command->start (priv->nbd, command->args),
                              command->what, command->offset, cancellable,
                              error);
}

/* The writes acknowledged on a lost connection are the caller's to send
 * again (see the top); the next command replaces the connection. */
static gboolean
writes_lost (ImgxferNbdBackend *self, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  priv->unflushed = FALSE;
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED,
               "%s: the connection to the server was lost, and writes not "
               "flushed on it may be lost too",
               url_of (self));
  return FALSE;
}

/* Runs @command, and again as the top of the file says. */
static gboolean
run_command (gpointer backend, const Command *command,
             GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackend *self = IMGXFER_NBD_BACKEND (backend);
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);
  guint retries = IMGXFER_NBD_BACKEND_GET_CLASS (self)->owns_server
                      ? 0
                      : imgxfer_open_options_get_retries (
                          imgxfer_backend_get_options (IMGXFER_BACKEND (self)));
  g_autoptr (GError) local_error = NULL;
  g_autofree char *request
      = command->kind == COMMAND_FLUSHES
            ? g_strdup_printf ("%s %s", command->what, url_of (self))
            : g_strdup_printf ("%s %s bytes %" G_GUINT64_FORMAT
                               "-%" G_GUINT64_FORMAT,
                               command->what, url_of (self), command->offset,
                               command->offset + command->length - 1);

  for (;;)
    {
      g_clear_error (&local_error);
      if (run_once (self, command, priv->failures > 0, cancellable,
                    &local_error))
        {
          priv->failures = 0;
          if (command->kind != COMMAND_READS)
            priv->unflushed = command->kind == COMMAND_WRITES;
          return TRUE;
        }
      if (priv->failures >= retries || !may_retry (self, local_error))
        break;
      priv->failures++;
      if (!_imgxfer_retry_wait (request,
                                priv->last_errno ? priv->last_reason
                                                 : local_error->message,
                                priv->failures, retries, cancellable, error))
        {
          priv->failures = 0;
          return FALSE;
        }
      if (priv->unflushed && !is_connected (priv))
        return writes_lost (self, error);
    }
  priv->failures = 0;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

typedef struct
{
  void *buffer;
  gsize length;
  guint64 offset;
  guint32 flags;
  gpointer status; /* BlockStatus */
} CommandArgs;

static int64_t
start_pread (struct nbd_handle *nbd, gpointer data)
{
  CommandArgs *args = data;

  return nbd_aio_pread (nbd, args->buffer, args->length, args->offset,
                        NBD_NULL_COMPLETION, 0);
}

static gboolean
imgxfer_nbd_backend_pread (ImgxferSource *source, void *buffer, gsize length,
                           guint64 offset, GCancellable *cancellable,
                           GError **error)
{
  CommandArgs args = { .buffer = buffer, .length = length, .offset = offset };
  const Command command
      = { "read", COMMAND_READS, offset, length, start_pread, &args };

  return run_command (source, &command, cancellable, error);
}

/* The replies of one block status command: for each context, the
 * (length, flags) pairs the server sent, flattened. */
typedef struct
{
  const char *names[2];
  GArray *runs[2]; /* of guint32 */
  gboolean top_only; /* see ImgxferNbdBackendPrivate */
} BlockStatus;

static int
block_status_reply (void *user_data, const char *context, uint64_t offset,
                    uint32_t *entries, size_t n_entries, int *error)
{
  BlockStatus *status = user_data;

  for (guint i = 0; i < G_N_ELEMENTS (status->names); i++)
    if (status->names[i] != NULL && strcmp (context, status->names[i]) == 0)
      /* @n_entries counts array elements, two per extent. */
      g_array_append_vals (status->runs[i], entries, n_entries & ~(size_t)1);
  return 0;
}

/* Walks the runs of one context; length 0 means exhausted. */
typedef struct
{
  GArray *runs;
  guint index;
  guint64 left;
  guint32 value;
} RunCursor;

static gboolean
run_cursor_next (RunCursor *cursor)
{
  /* Skip empty entries, which a sloppy server could send. */
  while (cursor->left == 0 && cursor->index + 1 < cursor->runs->len)
    {
      cursor->left = g_array_index (cursor->runs, guint32, cursor->index);
      cursor->value = g_array_index (cursor->runs, guint32, cursor->index + 1);
      cursor->index += 2;
    }
  return cursor->left > 0;
}

static ImgxferExtentFlags
extent_flags (ImgxferExtentContext context, guint32 allocation, guint32 other,
              gboolean has_other, gboolean top_only)
{
  /* Only the ZERO bit of base:allocation is used; HOLE and unknown bits
   * are masked out (see the top of the file). */
  ImgxferExtentFlags flags
      = (allocation & LIBNBD_STATE_ZERO) ? IMGXFER_EXTENT_ZERO : 0;

  if (!has_other)
    return flags;
  if (context == IMGXFER_EXTENT_CONTEXT_DIRTY)
    return flags | ((other & 1) ? IMGXFER_EXTENT_DIRTY : 0);
  /* allocation-depth 0: not allocated anywhere in this image's chain
   * below the export, so a backing file would show through. Depth 1 is
   * the export's top layer; deeper, a backing file: a hole of the top
   * layer, for a shallow copy. */
  if (top_only)
    return flags | (other != 1 ? IMGXFER_EXTENT_HOLE : 0);
  return flags | (other == 0 ? IMGXFER_EXTENT_HOLE : 0);
}

/* Combines the answers of the two contexts into runs where both are
 * constant, up to where the shorter answer ends. */
static void
merge_block_status (BlockStatus *status, ImgxferExtentContext context,
                    guint64 offset, GArray *extents)
{
  RunCursor cursors[2] = { { status->runs[0] }, { status->runs[1] } };
  gboolean has_other = status->names[1] != NULL;

  while (run_cursor_next (&cursors[0])
         && (!has_other || run_cursor_next (&cursors[1])))
    {
      guint64 length = cursors[0].left;

      if (has_other)
        length = MIN (length, cursors[1].left);
      imgxfer_extents_append (extents, offset, length,
                              extent_flags (context, cursors[0].value,
                                            cursors[1].value, has_other,
                                            status->top_only));
      offset += length;
      cursors[0].left -= length;
      if (has_other)
        cursors[1].left -= length;
    }
}

/* A block status command, its replies gathered anew at each start. */
static int64_t
start_block_status (struct nbd_handle *nbd, gpointer data)
{
  CommandArgs *args = data;
  BlockStatus *status = args->status;

  for (guint i = 0; i < G_N_ELEMENTS (status->runs); i++)
    g_array_set_size (status->runs[i], 0);
  return nbd_aio_block_status (
      nbd, args->length, args->offset,
      (nbd_extent_callback){ .callback = block_status_reply,
                             .user_data = status },
      NBD_NULL_COMPLETION, 0);
}

static gboolean
imgxfer_nbd_backend_extents (ImgxferSource *source,
                             ImgxferExtentContext context, guint64 offset,
                             guint64 length, GArray *extents,
                             GCancellable *cancellable, GError **error)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (IMGXFER_NBD_BACKEND (source));
  g_autoptr (GArray) allocation = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) other = g_array_new (FALSE, FALSE, sizeof (guint32));
  BlockStatus status = {
    .names = { BASE_ALLOCATION, context == IMGXFER_EXTENT_CONTEXT_DIRTY
                                    ? priv->dirty_context
                                    : priv->depth_context },
    .runs = { allocation, other },
    .top_only = priv->top_only,
  };
  guint first = extents->len;
  CommandArgs args = { .length = MIN (length, MAX_EXTENTS_REQUEST),
                       .offset = offset,
                       .status = &status };
  const Command command = { "block status", COMMAND_READS,      offset,
                            args.length,    start_block_status, &args };

  if (!run_command (source, &command, cancellable, error))
    return FALSE;

  merge_block_status (&status, context, offset, extents);
  if (extents->len == first)
    {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "%s: the NBD server sent no extents at offset %" G_GUINT64_FORMAT,
          url_of (source), offset);
      return FALSE;
    }
  return TRUE;
}

static void
imgxfer_nbd_backend_source_init (ImgxferSourceInterface *iface)
{
  iface->pread = imgxfer_nbd_backend_pread;
  iface->extents = imgxfer_nbd_backend_extents;
}

static int64_t
start_pwrite (struct nbd_handle *nbd, gpointer data)
{
  CommandArgs *args = data;

  return nbd_aio_pwrite (nbd, args->buffer, args->length, args->offset,
                         NBD_NULL_COMPLETION, 0);
}

static gboolean
imgxfer_nbd_backend_pwrite (ImgxferDestination *destination, const void *buffer,
                            gsize length, guint64 offset,
                            GCancellable *cancellable, GError **error)
{
  CommandArgs args
      = { .buffer = (void *)buffer, .length = length, .offset = offset };
  const Command command
      = { "write", COMMAND_WRITES, offset, length, start_pwrite, &args };

  return run_command (destination, &command, cancellable, error);
}

static int64_t
start_zero (struct nbd_handle *nbd, gpointer data)
{
  CommandArgs *args = data;

  return nbd_aio_zero (nbd, args->length, args->offset, NBD_NULL_COMPLETION,
                       args->flags);
}

static gboolean
imgxfer_nbd_backend_zero (ImgxferDestination *destination, guint64 offset,
                          guint64 length, ImgxferZeroFlags flags,
                          GCancellable *cancellable, GError **error)
{
  /* WRITE_ZEROES, never TRIM: a trimmed range may read back old data.
   * NO_HOLE keeps the range allocated unless the caller allows a hole. */
  CommandArgs args = {
    .length = length,
    .offset = offset,
    .flags = (flags & IMGXFER_ZERO_MAY_TRIM) ? 0 : LIBNBD_CMD_FLAG_NO_HOLE,
  };
  const Command command
      = { "zero", COMMAND_WRITES, offset, length, start_zero, &args };

  return run_command (destination, &command, cancellable, error);
}

static int64_t
start_flush (struct nbd_handle *nbd, gpointer data)
{
  return nbd_aio_flush (nbd, NBD_NULL_COMPLETION, 0);
}

static gboolean
imgxfer_nbd_backend_flush (ImgxferDestination *destination,
                           GCancellable *cancellable, GError **error)
{
  const Command command = { "flush", COMMAND_FLUSHES, 0, 0, start_flush, NULL };

  return run_command (destination, &command, cancellable, error);
}

static void
imgxfer_nbd_backend_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = imgxfer_nbd_backend_pwrite;
  iface->zero = imgxfer_nbd_backend_zero;
  iface->flush = imgxfer_nbd_backend_flush;
}

/* Whether the server closed its end of the connection (it died, or was
 * stopped). Telling it goodbye then fails as the request is sent, and
 * libnbd 1.14 reads the request it has just freed, at the end of
 * nbd_internal_command_common (cmd->cookie once the state machine has
 * died and freed the queue): memcheck's "Invalid read". */
static gboolean
server_hung_up (struct nbd_handle *nbd)
{
  struct pollfd connection
      = { .fd = nbd_aio_get_fd (nbd), .events = POLLRDHUP };

  return connection.fd >= 0 && poll (&connection, 1, 0) > 0
         && (connection.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* NBD_CMD_DISC after the commands in flight, unless one was given up
 * (cancelled): the server may then still be busy with it; or unless
 * the server is gone. */
static gboolean
imgxfer_nbd_backend_close (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  ImgxferNbdBackendPrivate *priv = imgxfer_nbd_backend_get_instance_private (
      IMGXFER_NBD_BACKEND (backend));
  gboolean ok = TRUE;

  if (priv->nbd == NULL)
    return TRUE;
  if (!priv->abandoned && nbd_aio_is_ready (priv->nbd)
      && !server_hung_up (priv->nbd) && nbd_shutdown (priv->nbd, 0) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s: disconnecting failed: %s", url_of (backend),
                   nbd_get_error ());
      ok = FALSE;
    }
  g_clear_pointer (&priv->nbd, nbd_close);
  return ok;
}

static void
imgxfer_nbd_backend_finalize (GObject *object)
{
  ImgxferNbdBackend *self = IMGXFER_NBD_BACKEND (object);
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  g_free (priv->dirty_context);
  g_free (priv->uri);
  g_free (priv->last_reason);

  G_OBJECT_CLASS (imgxfer_nbd_backend_parent_class)->finalize (object);
}

static const char *const nbd_schemes[] = {
  "nbd", "nbds", "nbd+unix", "nbds+unix", "nbd+vsock", "nbds+vsock", NULL
};

static void
imgxfer_nbd_backend_class_init (ImgxferNbdBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  object_class->finalize = imgxfer_nbd_backend_finalize;

  backend_class->name = "nbd";
  backend_class->description = "Images on NBD servers (libnbd)";
  backend_class->schemes = nbd_schemes;
  backend_class->open = imgxfer_nbd_backend_open;
  backend_class->clone = imgxfer_nbd_backend_clone;
  backend_class->close = imgxfer_nbd_backend_close;
}

static void
imgxfer_nbd_backend_init (ImgxferNbdBackend *self)
{
  ImgxferNbdBackendPrivate *priv
      = imgxfer_nbd_backend_get_instance_private (self);

  priv->greeting_timeout_us = HANDSHAKE_TIMEOUT_US;
}
