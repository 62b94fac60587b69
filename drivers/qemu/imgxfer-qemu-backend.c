/* imgxfer-qemu-backend.c: qemu image formats through qemu-nbd
 *
 * The image's bytes are found through the protocol drivers (a local file
 * or a tar member: a byte range of a local file), or on an NBD server,
 * which qemu reaches itself (imgxfer-qemu-nbd-url.c); a private qemu-nbd
 * serves the guest data from them, and the NBD driver, which this backend
 * extends, does the rest. A qcow2 source reads its data clusters straight
 * from the image file where `qemu-img map` found them (imgxfer-qemu-map.c).
 * Clones share the qemu-nbd process and the map.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-qemu-backend.h"

#include "imgxfer-qemu-bytes.h"
#include "imgxfer-qemu-chain.h"
#include "imgxfer-qemu-confine.h"
#include "imgxfer-qemu-map.h"
#include "imgxfer-qemu-nbd-server.h"
#include "imgxfer-qemu-nbd-url.h"

#define DEFAULT_CONNECTIONS 4
/* The block sizes stay those qemu-nbd advertises. With one request in
 * flight per connection, as the copy engine works, requests of 1-4 MiB
 * beat 256 KiB once qemu-nbd runs with the malloc tunables set by the
 * server object (measured with qemu 7.2 on 2 cores, 2026-11-26). */

struct _ImgxferQemuBackend
{
  ImgxferNbdBackend parent_instance;

  ImgxferQemuNbdServer *server;
  ImgxferQemuMap *map; /* NULL: everything through qemu-nbd */
  /* A shallow image: qemu's name for it with its chain, whose files
   * qemu-nbd did not open. */
  char *chain_filename;
};

static void imgxfer_qemu_backend_source_init (ImgxferSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (
    ImgxferQemuBackend, imgxfer_qemu_backend, IMGXFER_TYPE_NBD_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE,
                           imgxfer_qemu_backend_source_init))

/* The nbd driver's implementation, which ours extends. */
static ImgxferSourceInterface *nbd_source_iface;

/* An image in an archive (a range of a file, not all of it) or on an NBD
 * export reads nothing outside them unless the caller allows it. */
static gboolean
confined (ImgxferBackend *backend, const ImgxferLocalBytes *bytes)
{
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);

  return (bytes->path == NULL || !bytes->whole)
         && !imgxfer_open_options_get_allow_external_files (options);
}

/* Where the format's bytes are: the protocol driver's local file. Returns
 * qemu's name for the image in them. */
static char *
find_image_bytes (ImgxferBackend *backend, ImgxferLocalBytes *bytes,
                  GCancellable *cancellable, GError **error)
{
  const char *url = imgxfer_backend_get_url (backend);
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  const char *format = imgxfer_open_options_get_format (options);
  gboolean shallow = imgxfer_open_options_get_shallow (options);
  g_autoptr (ImgxferBackend) protocol = NULL;

  /* qemu reads the format from an NBD server through its own client. */
  if (_imgxfer_qemu_is_nbd_url (url))
    return _imgxfer_qemu_nbd_filename (url, format, shallow, error);

  /* The protocol level the library probed, if it did: opened once. */
  protocol = imgxfer_backend_open_protocol (backend, cancellable, error);
  if (protocol == NULL
      || !_imgxfer_local_bytes_of (protocol, bytes, NULL, cancellable, error))
    return NULL;
  if (bytes->path == NULL)
    return _imgxfer_qemu_url_not_supported (url, format, error);

  /* A confined image has no backing chain to open. */
  return _imgxfer_local_bytes_qemu_filename (
      bytes, format, shallow || confined (backend, bytes));
}

static guint
connections (ImgxferOpenOptions *options)
{
  guint n = imgxfer_open_options_get_connections (options);

  return n ? n : DEFAULT_CONNECTIONS;
}

static ImgxferQemuNbdServer *
start_server (ImgxferBackend *backend, const char *filename,
              GCancellable *cancellable, GError **error)
{
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *shared = NULL;
  g_auto (GStrv) args = NULL;

  /* This connection and one per worker clone. */
  shared = g_strdup_printf ("--shared=%u", connections (options) + 1);
  g_strv_builder_add_many (builder, shared, "--allocation-depth", NULL);
  if (imgxfer_open_options_get_writable (options))
    /* Lets zeroing with IMGXFER_ZERO_MAY_TRIM free clusters; qemu still
     * marks them zero, so nothing shows through from a backing file. */
    g_strv_builder_add (builder, "--discard=unmap");
  else
    g_strv_builder_add (builder, "--read-only");
  if (imgxfer_open_options_get_bitmap (options) != NULL)
    g_strv_builder_add_many (builder, "--bitmap",
                             imgxfer_open_options_get_bitmap (options), NULL);
  g_strv_builder_add_many (builder, "--", filename, NULL);
  args = g_strv_builder_end (builder);

  return imgxfer_qemu_nbd_server_start (imgxfer_backend_get_url (backend),
                                        (const char *const *)args, cancellable,
                                        error);
}

/* Only a read-only qcow2 reads from the image file: the image must stay
 * as qemu-img map saw it (qemu-nbd --read-only keeps writers away), direct
 * I/O would need aligned ranges, and other formats may keep their data in
 * other files (vmdk extents). */
static ImgxferQemuMap *
new_map (ImgxferBackend *backend, const ImgxferLocalBytes *bytes,
         const char *filename)
{
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);

  if (bytes->path == NULL || imgxfer_open_options_get_writable (options)
      || imgxfer_open_options_get_direct (options)
      || g_strcmp0 (imgxfer_open_options_get_format (options), "qcow2") != 0)
    return NULL;
  return imgxfer_qemu_map_new (bytes, filename,
                               imgxfer_open_options_get_shallow (options));
}

/* "vm.ova: member disk.qcow2" when the member is an option, else the URL
 * that names it. */
static char *
image_name (ImgxferBackend *backend)
{
  const char *url = imgxfer_backend_get_url (backend);
  const char *member
      = imgxfer_open_options_get_member (imgxfer_backend_get_options (backend));

  return member ? g_strdup_printf ("%s: member %s", url, member)
                : g_strdup (url);
}

static gboolean
start (ImgxferQemuBackend *self, GCancellable *cancellable, GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  g_auto (ImgxferLocalBytes) bytes = { 0 };
  g_autofree char *filename
      = find_image_bytes (backend, &bytes, cancellable, error);
  g_autofree char *name = NULL;
  gboolean is_confined;

  if (filename == NULL)
    return FALSE;
  is_confined = confined (backend, &bytes);
  if (is_confined)
    {
      name = image_name (backend);
      if (!_imgxfer_qemu_check_no_backing (name, filename, bytes.path,
                                           cancellable, error))
        return FALSE;
    }
  self->server = start_server (backend, filename, cancellable, error);
  if (self->server == NULL)
    return FALSE;
  if (is_confined
      && !_imgxfer_qemu_check_files_in_archive (name, self->server, bytes.path,
                                                error))
    return FALSE;
  self->map = new_map (backend, &bytes, filename);
  if (imgxfer_open_options_get_shallow (options) && !is_confined
      && bytes.path != NULL)
    self->chain_filename = _imgxfer_local_bytes_qemu_filename (
        &bytes, imgxfer_open_options_get_format (options), FALSE);
  return TRUE;
}

static gboolean
imgxfer_qemu_backend_open (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (backend);

  /* A clone arrives with its parent's server and map. */
  if (self->server == NULL && !start (self, cancellable, error))
    return FALSE;

  if (!_imgxfer_nbd_backend_connect (
          IMGXFER_NBD_BACKEND (self),
          imgxfer_qemu_nbd_server_get_uri (self->server), cancellable, error))
    return FALSE;

  /* All connections reach one qemu block layer, so writes on one are
   * seen and flushed by the others even without multi-conn. */
  imgxfer_backend_set_max_connections (
      backend, connections (imgxfer_backend_get_options (backend)));
  return TRUE;
}

static ImgxferBackend *
imgxfer_qemu_backend_clone (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (backend);
  g_autoptr (ImgxferQemuBackend) clone = NULL;

  clone = g_object_new (IMGXFER_TYPE_QEMU_BACKEND, "url",
                        imgxfer_backend_get_url (backend), "options",
                        imgxfer_backend_get_options (backend), NULL);
  clone->server = g_object_ref (self->server);
  imgxfer_qemu_nbd_server_hold (clone->server);
  clone->map = self->map ? g_object_ref (self->map) : NULL;
  if (!g_initable_init (G_INITABLE (clone), cancellable, error))
    return NULL;
  return IMGXFER_BACKEND (g_steal_pointer (&clone));
}

/* Splits the range into the runs the map reads from the image file and
 * those qemu-nbd serves. The map is made on the first read, so that
 * opening an image only to ask for its extents costs no qemu-img map. */
static gboolean
imgxfer_qemu_backend_pread (ImgxferSource *source, void *buffer, gsize length,
                            guint64 offset, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (source);
  guint8 *p = buffer;

  if (self->map == NULL)
    return nbd_source_iface->pread (source, buffer, length, offset, cancellable,
                                    error);

  imgxfer_qemu_map_load (self->map, cancellable);
  while (length > 0)
    {
      gboolean direct;
      gsize run
          = imgxfer_qemu_map_next_run (self->map, offset, length, &direct);

      if (direct ? !imgxfer_qemu_map_pread (self->map, p, run, offset, error)
                 : !nbd_source_iface->pread (source, p, run, offset,
                                             cancellable, error))
        return FALSE;
      p += run;
      offset += run;
      length -= run;
    }
  return TRUE;
}

static void
imgxfer_qemu_backend_source_init (ImgxferSourceInterface *iface)
{
  nbd_source_iface = g_type_interface_peek_parent (iface);
  /* The extents stay the nbd driver's (the copied vtable has them). */
  iface->pread = imgxfer_qemu_backend_pread;
}

static gboolean
imgxfer_qemu_backend_get_local_files (ImgxferBackend *backend, GPtrArray *files,
                                      GCancellable *cancellable, GError **error)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (backend);

  if (self->server == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: the image is closed", imgxfer_backend_get_url (backend));
      return FALSE;
    }
  return imgxfer_qemu_nbd_server_add_open_files (self->server, files, error)
         && (self->chain_filename == NULL
             || _imgxfer_qemu_add_chain_files (self->chain_filename, files,
                                               cancellable, error));
}

static char *
imgxfer_qemu_backend_get_server_messages (ImgxferNbdBackend *backend)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (backend);

  return imgxfer_qemu_nbd_server_get_messages (self->server);
}

/* The connection goes first: the server may stop under it. When qemu-nbd
 * died, that is the error to report, rather than the lost connection. */
static gboolean
imgxfer_qemu_backend_close (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (backend);
  g_autoptr (GError) disconnect_error = NULL;
  gboolean connected_ok
      = IMGXFER_BACKEND_CLASS (imgxfer_qemu_backend_parent_class)
            ->close (backend, cancellable, &disconnect_error);

  if (self->server != NULL
      && !imgxfer_qemu_nbd_server_release (self->server, error))
    {
      g_clear_object (&self->server);
      return FALSE;
    }
  g_clear_object (&self->server);
  if (!connected_ok)
    g_propagate_error (error, g_steal_pointer (&disconnect_error));
  return connected_ok;
}

static void
imgxfer_qemu_backend_finalize (GObject *object)
{
  ImgxferQemuBackend *self = IMGXFER_QEMU_BACKEND (object);

  g_clear_object (&self->server);
  g_clear_object (&self->map);
  g_free (self->chain_filename);

  G_OBJECT_CLASS (imgxfer_qemu_backend_parent_class)->finalize (object);
}

/* The formats qemu-img reads and writes without extra secrets (luks
 * needs a key) or stacking (raw is the file and tar drivers' job). */
static const char *const qemu_formats[] = { "qcow2", "qcow",      "qed",
                                            "vmdk",  "vhdx",      "vdi",
                                            "vpc",   "parallels", NULL };
static const char *const qemu_schemes[] = { NULL };

/* As qemu probes them; drivers/modules/qemu.driver says the same. A LUKS
 * header is named, although qemu needs a key to open it, so that it is
 * refused rather than copied as plain data. */
static const char *const qemu_signatures[] = {
  "qcow2:0:514649fb00000002", /* "QFI\xfb", version 2 */
  "qcow2:0:514649fb00000003", /* version 3 */
  "qcow:0:514649fb",          /* any other version */
  "vmdk:0:4b444d56",          /* "KDMV" */
  /* "# Disk DescriptorFile" */
  "vmdk:0:23204469736b2044657363726970746f7246696c65",
  "vhdx:0:7668647866696c65",  /* "vhdxfile" */
  "vpc:0:636f6e6563746978",   /* "conectix" */
  "qed:0:51454400",           /* "QED\0" */
  "vdi:0x40:7f10dabe",
  /* "WithoutFreeSpace" and "WithouFreSpacExt", version 2 */
  "parallels:0:576974686f757446726565537061636502000000",
  "parallels:0:576974686f754672655370616345787402000000",
  "luks:0:4c554b53babe", /* "LUKS\xba\xbe" */
  NULL
};

static void
imgxfer_qemu_backend_class_init (ImgxferQemuBackendClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  object_class->finalize = imgxfer_qemu_backend_finalize;

  backend_class->name = "qemu";
  backend_class->description = "qemu image formats, served by qemu-nbd";
  backend_class->schemes = qemu_schemes;
  backend_class->formats = qemu_formats;
  backend_class->signatures = qemu_signatures;
  backend_class->open = imgxfer_qemu_backend_open;
  backend_class->clone = imgxfer_qemu_backend_clone;
  backend_class->get_local_files = imgxfer_qemu_backend_get_local_files;
  backend_class->close = imgxfer_qemu_backend_close;
  backend_class->create = _imgxfer_qemu_create;
  /* The private qemu-nbd's errors are its file's; once gone, it stays. */
  IMGXFER_NBD_BACKEND_CLASS (klass)->owns_server = TRUE;
  backend_class->info = _imgxfer_qemu_info;
  backend_class->measure = _imgxfer_qemu_measure;
  IMGXFER_NBD_BACKEND_CLASS (klass)->get_server_messages
      = imgxfer_qemu_backend_get_server_messages;
}

static void
imgxfer_qemu_backend_init (ImgxferQemuBackend *self)
{
}
