/* imgxfer-backend.h: one open connection to one image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-open-options.h>
#include <imgxfer/imgxfer-version.h>
#include <json-glib/json-glib.h>

/**
 * SECTION:imgxfer-backend
 * @title: ImgxferBackend
 * @short_description: one open connection to one image
 * @see_also: #ImgxferSource, #ImgxferDestination, #ImgxferDriverSpec
 *
 * Every image imgxfer reads or writes is an #ImgxferBackend, an instance
 * of the driver that handles its URL: imgxfer_open() opens one,
 * imgxfer_create() makes a new image and opens it. A backend tells the
 * image's size, what it can do (#ImgxferBackendCaps), the request sizes it
 * takes and how many connections it allows; it reads as an
 * #ImgxferSource and writes as an #ImgxferDestination.
 *
 * A backend is used by one thread at a time. The copy engine and
 * imgxfer_checksum_compute() work with several threads, each with its own
 * connection from imgxfer_backend_clone(). imgxfer_backend_close() ends a
 * connection and reports what went wrong in the end (a flush, a helper
 * process).
 *
 * ## For driver authors
 *
 * A driver is a subclass of #ImgxferBackend. Its class says which URL
 * schemes (#ImgxferBackendClass.schemes) and image formats
 * (#ImgxferBackendClass.formats) it opens, so that the registry picks a
 * driver without making an instance. Its open vfunc connects to the
 * image named by #ImgxferBackend:url, reads the #ImgxferBackend:options
 * that concern it and declares, with imgxfer_backend_set_size(),
 * imgxfer_backend_set_caps(), imgxfer_backend_set_block_sizes() and
 * imgxfer_backend_set_max_connections(), what the image is. The library
 * checks every request against those declarations before the driver
 * sees it, and supplies what the driver leaves out (extents, zeroing by
 * writing zeroes), so a driver holds only what it knows of its image.
 * Most drivers describe themselves as an #ImgxferDriverSpec and let
 * IMGXFER_DEFINE_DRIVER() write the class.
 */

G_BEGIN_DECLS

/**
 * ImgxferBackendCaps:
 * @IMGXFER_BACKEND_CAN_WRITE: pwrite works (the backend is a writable
 *   #ImgxferDestination)
 * @IMGXFER_BACKEND_CAN_ZERO: the zero vfunc is efficient (no data sent)
 * @IMGXFER_BACKEND_CAN_FLUSH: flush does something
 * @IMGXFER_BACKEND_CAN_EXTENTS: extents in the zero context are real
 * @IMGXFER_BACKEND_CAN_DIRTY: extents in the dirty context are available
 * @IMGXFER_BACKEND_IS_ZERO: the image is known to read as zeroes now (just
 *   created sparse), so a copy need not zero it
 * @IMGXFER_BACKEND_MAY_RECONNECT: the driver may replace a connection that
 *   holds writes not flushed yet and say so with
 *   %IMGXFER_ERROR_RECONNECTED; a copy then lists what it writes, to write
 *   it again, and flushes now and then to keep that list short
 *
 * What a backend can do, declared by the driver when it opens. Each one
 * changes what the library does; bits 2 and 3 are unused (they once told
 * of fast zeroing and deallocation, which nothing could act upon:
 * %IMGXFER_ZERO_MAY_TRIM asks a driver to deallocate where it can).
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_BACKEND_CAN_WRITE = 1 << 0,
  IMGXFER_BACKEND_CAN_ZERO = 1 << 1,
  IMGXFER_BACKEND_CAN_FLUSH = 1 << 4,
  IMGXFER_BACKEND_CAN_EXTENTS = 1 << 5,
  IMGXFER_BACKEND_CAN_DIRTY = 1 << 6,
  IMGXFER_BACKEND_IS_ZERO = 1 << 7,
  IMGXFER_BACKEND_MAY_RECONNECT = 1 << 8,
} ImgxferBackendCaps;

/**
 * ImgxferCloseFlags:
 * @IMGXFER_CLOSE_NONE: close without flushing: what was written and not
 *   flushed may be lost (a copy that failed: a new qcow2 image then keeps
 *   its dirty bit)
 * @IMGXFER_CLOSE_FLUSH: flush a writable backend first (when it declares
 *   %IMGXFER_BACKEND_CAN_FLUSH), so that its last writes are durable or
 *   their error is returned
 *
 * How imgxfer_backend_close() ends a connection.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  IMGXFER_CLOSE_NONE = 0,
  IMGXFER_CLOSE_FLUSH = 1 << 0,
} ImgxferCloseFlags;

/**
 * IMGXFER_TYPE_BACKEND:
 *
 * The #GType of #ImgxferBackend.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_BACKEND (imgxfer_backend_get_type ())

/**
 * ImgxferBackend:
 *
 * One open connection to one image: a file, an NBD export, a qcow2 image
 * through qemu, a member of an archive, an image behind an imageio server.
 * imgxfer_open() and imgxfer_create() return one, of the driver that
 * handles the URL; it is also an #ImgxferSource, an #ImgxferDestination or
 * both. It knows the image's size, what it can do
 * (imgxfer_backend_get_caps()), the request sizes it takes and how many
 * connections it allows; imgxfer_backend_clone() opens another one.
 *
 * One backend is used by one thread at a time; use a clone in each
 * thread. Close it with imgxfer_backend_close() to learn whether what was
 * written is durable.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (ImgxferBackend, imgxfer_backend, IMGXFER, BACKEND,
                          GObject)

/**
 * ImgxferBackendClass:
 * @parent_class: the parent class
 * @name: the driver's short name ("file", "nbd"), shown by `imgxfer drivers`
 * @description: one line for people
 * @schemes: (array zero-terminated=1): URL schemes this driver opens; the
 *   empty string "" stands for a plain path
 * @formats: (array zero-terminated=1) (nullable): image formats this driver
 *   opens on top of a local file ("qcow2", "vmdk"); %NULL for drivers that
 *   expose guest data directly
 * @open: connect to the image named by the construct properties
 *   (#ImgxferBackend:url and #ImgxferBackend:options) and declare size,
 *   capabilities and block sizes with the imgxfer_backend_set_*() calls.
 *   Called once, from g_initable_init(). Errors name the URL.
 * @clone: open another connection to the same image, with the same options,
 *   for another worker. The default creates a new instance with the same
 *   construct properties and opens it; a driver overrides it when a clone
 *   must share state (a child process, an in-memory store). A copy goes on
 *   with the connections it has when a clone fails, so a driver should
 *   fail fast rather than wait long for a server that may never serve
 *   another client.
 * @get_local_file: if the image's bytes are the byte range @offset..+@size
 *   of a local file, return its path; used to stack a format driver (qemu)
 *   on top of a protocol driver (file, tar). Returning %FALSE means no.
 * @get_local_files: add to @files the path of every local file reading
 *   this image reads (the image file, each file of its backing chain, an
 *   external data file, the archive holding a member), so that none of
 *   them is taken as a destination. Paths may use any spelling; the caller
 *   compares devices and inodes. The default adds the file that
 *   get_local_file names, if any. Since: 0.1
 * @close: end the connection: stop helper processes (a qemu-nbd the
 *   driver started), close descriptors and sockets, and return what went
 *   wrong that was not reported yet (a write-back error, a helper that
 *   exited with an error). Called once, by imgxfer_backend_close() (which
 *   flushed first when asked) or, if the caller never closed the backend,
 *   when its last reference is dropped, the error then being logged at
 *   debug level. It may find the backend half opened (its open vfunc
 *   failed). %NULL: nothing to do; finalize releases memory only. Since: 0.1
 * @create: a class method: make a new image at @url, of @format (a format
 *   the class lists; for a protocol driver, raw guest data) and virtual
 *   @size, on top of @backing_file (of @backing_format) when that is not
 *   %NULL, replacing whatever is there, and open it with @options, which
 *   are writable and name the format. Called by imgxfer_create(), which
 *   has checked that a raw image gets no backing file. Returning
 *   %G_IO_ERROR_NOT_SUPPORTED passes the request to the next driver that
 *   claims the format (a driver may create only some images of a format).
 *   %NULL: the driver creates nothing. Since: 0.1
 * @info: a class method: describe the image at @url, opened with
 *   @options (whose format is this driver's, or unset for a protocol
 *   driver's raw data), as a JSON object in the keys of `qemu-img info
 *   --output=json` ("filename", "format", "virtual-size", ...), for
 *   imgxfer_image_info(). %G_IO_ERROR_NOT_SUPPORTED passes to the next
 *   driver of the format. %NULL: the library describes the image from an
 *   open backend (format, virtual size). Since: 0.1
 * @measure: a class method: how much space converting the image at @url
 *   (opened with @options) into @target_format, a format this driver
 *   lists, would take, as `qemu-img measure --output=json` says
 *   ("required", "fully-allocated"), for imgxfer_image_measure().
 *   %G_IO_ERROR_NOT_SUPPORTED passes to the next driver of the format.
 *   Since: 0.1
 * @checksum: the blkhash checksum of the open image with @algorithm and
 *   @block_size (both given), when the driver can have it without reading
 *   the image through the library (a server computes it). Returns the hex
 *   digest; %G_IO_ERROR_NOT_SUPPORTED makes imgxfer_checksum_compute()
 *   read the image instead. %NULL: always read. Since: 0.1
 * @list_members: a class method of drivers that open members of archive
 *   files: list the members of the archive at @path, as
 *   imgxfer_archive_list() documents. Such a driver also opens a plain
 *   path with a member in the options (imgxfer_open_options_set_member()).
 *   Since: 0.1
 * @signatures: (array zero-terminated=1) (nullable): how the formats this
 *   driver opens are recognized, for imgxfer_probe_format(): strings
 *   "FORMAT:OFFSET:HEX", the format's name, where its magic bytes start
 *   (decimal, or hexadecimal after 0x) and the bytes in hexadecimal, such
 *   as "myfmt:0:4d59464d" for an image starting with "MYFM". A format
 *   with several signatures lists each; the first signature that matches,
 *   of the drivers in resolution order, names the format, so a longer
 *   signature comes before a shorter one it extends. Since: 0.1
 *
 * Drivers subclass #ImgxferBackend and implement #ImgxferSource,
 * #ImgxferDestination or both. One instance is used by one thread at a
 * time, so drivers need no locks; the engine clones a backend for each
 * worker thread. Most drivers fill an #ImgxferDriverSpec instead of
 * writing the class by hand (IMGXFER_DEFINE_DRIVER()).
 *
 * Since: 0.1
 */
struct _ImgxferBackendClass
{
  GObjectClass parent_class;

  const char *name;
  const char *description;
  const char *const *schemes;
  const char *const *formats;

  gboolean (*open) (ImgxferBackend *self,
                    GCancellable *cancellable,
                    GError **error);
  ImgxferBackend *(*clone) (ImgxferBackend *self,
                            GCancellable *cancellable,
                            GError **error);
  gboolean (*get_local_file) (ImgxferBackend *self,
                              char **path,
                              guint64 *offset,
                              guint64 *size);
  gboolean (*get_local_files) (ImgxferBackend *self, GPtrArray *files,
                               GCancellable *cancellable, GError **error);
  gboolean (*close) (ImgxferBackend *self,
                     GCancellable *cancellable,
                     GError **error);

  ImgxferBackend *(*create) (ImgxferBackendClass *klass, const char *url,
                             const char *format, guint64 size,
                             const char *backing_file,
                             const char *backing_format,
                             ImgxferOpenOptions *options,
                             GCancellable *cancellable, GError **error);
  JsonNode *(*info) (ImgxferBackendClass *klass, const char *url,
                     ImgxferOpenOptions *options, GCancellable *cancellable,
                     GError **error);
  JsonNode *(*measure) (ImgxferBackendClass *klass, const char *url,
                        ImgxferOpenOptions *options, const char *target_format,
                        GCancellable *cancellable, GError **error);
  char *(*checksum) (ImgxferBackend *self, const char *algorithm,
                     gsize block_size, GCancellable *cancellable,
                     GError **error);
  JsonNode *(*list_members) (ImgxferBackendClass *klass, const char *path,
                             GCancellable *cancellable, GError **error);
  const char *const *signatures;

  /*< private >*/
  gpointer padding[8];
};

/* What the backend was opened with. A driver reads the options that
 * concern it and ignores the others. */
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_backend_get_url (ImgxferBackend *self);
IMGXFER_AVAILABLE_IN_ALL
ImgxferOpenOptions *imgxfer_backend_get_options (ImgxferBackend *self);

/* What the driver declared when it opened. */
IMGXFER_AVAILABLE_IN_ALL
guint64 imgxfer_backend_get_size (ImgxferBackend *self);
IMGXFER_AVAILABLE_IN_ALL
ImgxferBackendCaps imgxfer_backend_get_caps (ImgxferBackend *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_backend_get_block_sizes (ImgxferBackend *self,
                                      guint32 *minimum,
                                      guint32 *preferred,
                                      guint32 *maximum);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_backend_get_max_connections (ImgxferBackend *self);

/* For drivers, from their open vfunc. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_backend_set_size (ImgxferBackend *self, guint64 size);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_backend_set_caps (ImgxferBackend *self, ImgxferBackendCaps caps);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_backend_set_block_sizes (ImgxferBackend *self,
                                      guint32 minimum,
                                      guint32 preferred,
                                      guint32 maximum);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_backend_set_max_connections (ImgxferBackend *self,
                                          guint max_connections);

IMGXFER_AVAILABLE_IN_ALL
ImgxferBackend *imgxfer_backend_clone (ImgxferBackend *self,
                                       GCancellable *cancellable,
                                       GError **error);
IMGXFER_AVAILABLE_IN_0_1
ImgxferBackend *imgxfer_backend_open_protocol (ImgxferBackend *self,
                                               GCancellable *cancellable,
                                               GError **error);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_backend_close (ImgxferBackend *self,
                                ImgxferCloseFlags flags,
                                GCancellable *cancellable,
                                GError **error);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_backend_is_closed (ImgxferBackend *self);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_backend_get_local_file (ImgxferBackend *self,
                                         char **path,
                                         guint64 *offset,
                                         guint64 *size);
IMGXFER_AVAILABLE_IN_ALL
char **imgxfer_backend_get_local_files (ImgxferBackend *self,
                                        GCancellable *cancellable,
                                        GError **error);

G_END_DECLS
