/* imgxfer-qcow2-writer.c: the qcow2 driver: new qcow2 images
 *
 * imgxfer_create() makes a qcow2 image without a backing file with this
 * backend instead of `qemu-img create` and qemu-nbd: the clusters are
 * allocated and written in this process (imgxfer-qcow2-image.c). A copy
 * into qcow2 then costs what a copy into a raw file costs, where through
 * qemu-nbd every byte crossed a socket and a second process.
 *
 * Only new images are handled this way: an image that exists may use
 * anything qcow2 allows (compression, snapshots, a backing chain, other
 * cluster sizes), which is qemu's to handle, so the driver passes every
 * other request for qcow2 on to the next driver of the format. The
 * backend it creates writes and zeroes, and reads back what was written
 * (data clusters straight from the image file, the others as zeroes),
 * so that a copy can be checked while the image is open. Clones share
 * the image, which has its own lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/common/imgxfer-local-io.h"
#include "drivers/common/imgxfer-write-behind.h"
#include "imgxfer-qcow2-image.h"
#include "imgxfer-qcow2-writer.h"

/* As large as the copy engine's requests get. */
#define MAX_REQUEST (32 * 1024 * 1024)
#define MAX_CONNECTIONS 16

struct _ImgxferQcow2Writer
{
  ImgxferBackend parent_instance;

  ImgxferQcow2Image *image;
  ImgxferWriteBehind write_behind; /* this connection's writes */
};

/* The image exists before the backend opens: open only declares it. An
 * image this driver did not create is for the next driver of the
 * format. */
static gboolean
imgxfer_qcow2_writer_open (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (backend);

  if (self->image == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: the qcow2 driver opens only the images it creates",
                   imgxfer_backend_get_url (backend));
      return FALSE;
    }

  imgxfer_backend_set_size (backend,
                            _imgxfer_qcow2_image_get_size (self->image));
  /* Unallocated clusters read as zeroes and cost nothing: zeroes found
   * in the data are better left unallocated, as qemu-img does. */
  imgxfer_backend_set_caps (
      backend, IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO
                   | IMGXFER_BACKEND_CAN_FLUSH | IMGXFER_BACKEND_CAN_EXTENTS
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
imgxfer_qcow2_writer_pread (ImgxferSource *source, void *buffer, gsize length,
                            guint64 offset, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (source);

  return _imgxfer_qcow2_image_read (self->image, buffer, length, offset, error);
}

static gboolean
imgxfer_qcow2_writer_extents (ImgxferSource *source,
                              ImgxferExtentContext context, guint64 offset,
                              guint64 length, GArray *extents,
                              GCancellable *cancellable, GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (source);

  return _imgxfer_qcow2_image_extents (self->image, offset, length, extents,
                                       error);
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

/* Only images without a backing file, not for direct I/O: qemu does
 * more there. */
static ImgxferBackend *
imgxfer_qcow2_writer_create (ImgxferBackendClass *klass, const char *url,
                             const char *format, guint64 size,
                             const char *backing_file,
                             const char *backing_format,
                             ImgxferOpenOptions *options,
                             GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferQcow2Image) image = NULL;
  g_autofree char *path = NULL;

  if (backing_file != NULL || imgxfer_open_options_get_direct (options))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: the qcow2 driver creates only images without a "
                   "backing file, for the page cache",
                   url);
      return NULL;
    }

  path = _imgxfer_local_path_for_create (url, error);
  if (path == NULL)
    return NULL;
  image = _imgxfer_qcow2_image_create (path, size, error);
  if (image == NULL)
    return NULL;
  return new_writer (url, options, image, cancellable, error);
}

/* The last of a writer and its clones to close closes the file and drops
 * qemu's locks, so that qemu may open the image. */
static gboolean
imgxfer_qcow2_writer_close (ImgxferBackend *backend, GCancellable *cancellable,
                            GError **error)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (backend);

  g_clear_pointer (&self->image, _imgxfer_qcow2_image_unref);
  return TRUE;
}

static void
imgxfer_qcow2_writer_release (ImgxferBackend *backend)
{
  ImgxferQcow2Writer *self = IMGXFER_QCOW2_WRITER (backend);

  g_clear_pointer (&self->image, _imgxfer_qcow2_image_unref);
}

static const char *const qcow2_schemes[] = { NULL };
static const char *const qcow2_formats[] = { "qcow2", NULL };

static const ImgxferDriverSpec qcow2_driver = {
  .name = "qcow2",
  .description = "New qcow2 images without a backing file, written directly",
  .schemes = qcow2_schemes,
  .formats = qcow2_formats,
  .finalize = imgxfer_qcow2_writer_release,
  .open = imgxfer_qcow2_writer_open,
  .clone = imgxfer_qcow2_writer_clone,
  .close = imgxfer_qcow2_writer_close,
  .create = imgxfer_qcow2_writer_create,
  .pread = imgxfer_qcow2_writer_pread,
  .extents = imgxfer_qcow2_writer_extents,
  .pwrite = imgxfer_qcow2_writer_pwrite,
  .zero = imgxfer_qcow2_writer_zero,
  .flush = imgxfer_qcow2_writer_flush,
};

IMGXFER_DEFINE_DRIVER (ImgxferQcow2Writer, imgxfer_qcow2_writer, &qcow2_driver)
