/* imgxfer-qcow2-writer.c: the destination of a new qcow2 image
 *
 * imgxfer_create() makes a qcow2 image without a backing file with this
 * backend instead of `qemu-img create` and qemu-nbd: the clusters are
 * allocated and written in this process (imgxfer-qcow2-image.c). A copy
 * into qcow2 then costs what a copy into a raw file costs, where through
 * qemu-nbd every byte crossed a socket and a second process.
 *
 * Only new images are written this way: an image that exists may use
 * anything qcow2 allows (compression, snapshots, a backing chain, other
 * cluster sizes), which is qemu's to handle. The backend writes and
 * zeroes; reading the image back is for the qemu driver, once it is
 * complete. Clones share the image, which has its own lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/common/imgxfer-local-io.h"
#include "drivers/common/imgxfer-write-behind.h"
#include "imgxfer-qcow2-image-private.h"
#include "imgxfer-qcow2-writer-private.h"

/* As large as the copy engine's requests get. */
#define MAX_REQUEST (32 * 1024 * 1024)
#define MAX_CONNECTIONS 16

struct _ImgxferQcow2Writer
{
  ImgxferBackend parent_instance;

  ImgxferQcow2Image *image;
  ImgxferWriteBehind write_behind; /* this connection's writes */
};

static void
imgxfer_qcow2_writer_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (
    ImgxferQcow2Writer, imgxfer_qcow2_writer, IMGXFER_TYPE_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                           imgxfer_qcow2_writer_destination_init))

/* The image exists before the backend opens: open only declares it. */
static gboolean
imgxfer_qcow2_writer_open (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (backend);

  imgxfer_backend_set_size (backend,
                            _imgxfer_qcow2_image_get_size (self->image));
  /* Unallocated clusters read as zeroes and cost nothing: zeroes found
   * in the data are better left unallocated, as qemu-img does. */
  imgxfer_backend_set_caps (
      backend, IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO
                   | IMGXFER_BACKEND_CAN_PUNCH_HOLE | IMGXFER_BACKEND_CAN_FLUSH
                   | IMGXFER_BACKEND_IS_ZERO);
  imgxfer_backend_set_block_sizes (backend, 1, 64 * 1024, MAX_REQUEST);
  imgxfer_backend_set_max_connections (backend, MAX_CONNECTIONS);
  return TRUE;
}

static ImgxferBackend *
new_writer (const char *url, ImgxferOpenOptions *options,
            ImgxferQcow2Image *image, GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferQcow2Writer) self = g_object_new (
      IMGXFER_TYPE_QCOW2_WRITER, "url", url, "options", options, NULL);

  self->image = _imgxfer_qcow2_image_ref (image);
  if (!g_initable_init (G_INITABLE (self), cancellable, error))
    return NULL;
  return IMGXFER_BACKEND (g_steal_pointer (&self));
}

static ImgxferBackend *
imgxfer_qcow2_writer_clone (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (backend);

  return new_writer (imgxfer_backend_get_url (backend),
                     imgxfer_backend_get_options (backend), self->image,
                     cancellable, error);
}

typedef struct
{
  ImgxferQcow2Writer *self;
  const guint8 *buffer;
  guint64 offset; /* of the buffer, in the guest */
} WriteRequest;

static gboolean
write_run (guint64 guest_offset, guint64 file_offset, gsize length,
           gpointer user_data, GError **error)
{
  WriteRequest *request = user_data;
  ImgxferQcow2Image *image = request->self->image;
  const char *path = _imgxfer_qcow2_image_get_path (image);
  int fd = _imgxfer_qcow2_image_get_fd (image);

  return _imgxfer_local_pio (
             fd, path, TRUE,
             (void *)(request->buffer + (guest_offset - request->offset)),
             length, file_offset, error)
         && _imgxfer_write_behind_add (&request->self->write_behind, fd, path,
                                       file_offset, length, error);
}

static gboolean
imgxfer_qcow2_writer_pwrite (ImgxferDestination *destination,
                             const void *buffer, gsize length, guint64 offset,
                             GCancellable *cancellable, GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (destination);
  WriteRequest request = { self, buffer, offset };

  return _imgxfer_qcow2_image_map (self->image, offset, length, TRUE, write_run,
                                   &request, error);
}

/* Only clusters written before hold anything: the others read as zero
 * already. A hole in the image file inside a cluster reads as zeroes too.
 * Where the file system cannot make one, the caller writes zeroes over
 * the whole range instead (allocating its clusters). */
static gboolean
zero_run (guint64 guest_offset, guint64 file_offset, gsize length,
          gpointer user_data, GError **error)
{
  ImgxferQcow2Image *image = user_data;

  return _imgxfer_local_zero (_imgxfer_qcow2_image_get_fd (image),
                              _imgxfer_qcow2_image_get_path (image),
                              file_offset, length, TRUE, error);
}

static gboolean
imgxfer_qcow2_writer_zero (ImgxferDestination *destination, guint64 offset,
                           guint64 length, ImgxferZeroFlags flags,
                           GCancellable *cancellable, GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (destination);

  return _imgxfer_qcow2_image_map (self->image, offset, length, FALSE, zero_run,
                                   self->image, error);
}

static gboolean
imgxfer_qcow2_writer_flush (ImgxferDestination *destination,
                            GCancellable *cancellable, GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (destination);

  return _imgxfer_qcow2_image_commit (self->image, error);
}

static void
imgxfer_qcow2_writer_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = imgxfer_qcow2_writer_pwrite;
  iface->zero = imgxfer_qcow2_writer_zero;
  iface->flush = imgxfer_qcow2_writer_flush;
}

static void
imgxfer_qcow2_writer_finalize (GObject *object)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (object);

  g_clear_pointer (&self->image, _imgxfer_qcow2_image_unref);
  G_OBJECT_CLASS (imgxfer_qcow2_writer_parent_class)->finalize (object);
}

static void
imgxfer_qcow2_writer_class_init (ImgxferQcow2WriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  object_class->finalize = imgxfer_qcow2_writer_finalize;

  backend_class->name = "qcow2-writer";
  backend_class->description = "new qcow2 images, written directly";
  backend_class->open = imgxfer_qcow2_writer_open;
  backend_class->clone = imgxfer_qcow2_writer_clone;
}

static void
imgxfer_qcow2_writer_init (ImgxferQcow2Writer *self)
{
}

/* Creates an empty qcow2 image of @size at @path, which @url names, and
 * opens it for writing. */
ImgxferBackend *
_imgxfer_qcow2_writer_create (const char *url, const char *path, guint64 size,
                              ImgxferOpenOptions *options,
                              GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferQcow2Image) image
      = _imgxfer_qcow2_image_create (path, size, error);

  if (image == NULL)
    return NULL;
  return new_writer (url, options, image, cancellable, error);
}
