/* imgxfer-driver-spec.h: a driver defined by a table of callbacks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-source.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-driver-spec
 * @title: Writing a driver
 * @short_description: a driver defined by a table of callbacks
 * @see_also: #ImgxferBackendClass, #ImgxferSourceInterface,
 *   #ImgxferDestinationInterface, IMGXFER_DEFINE_DRIVER_MODULE()
 *
 * A driver is an #ImgxferBackend subclass that implements
 * #ImgxferSource, #ImgxferDestination or both. Rather than write the
 * class and interface initializers, a driver fills an #ImgxferDriverSpec
 * with its name, its URL schemes or formats and its callbacks, and
 * IMGXFER_DEFINE_DRIVER() turns it into a final GObject type: a source
 * when the table has a pread, a destination when it has a pwrite. A
 * driver whose instances keep no state beyond what the backend holds
 * uses IMGXFER_DEFINE_SIMPLE_DRIVER(), which declares the type too.
 *
 * With IMGXFER_DEFINE_DRIVER() the instance struct is the driver's own:
 * the parent first, then its state. One instance is used by one thread at a time, so a driver needs
 * no locks; the library clones it for each worker. The library checks
 * that every request lies inside the image and within the block sizes the
 * driver declared, splits large zero requests, merges and clips extents
 * and writes zeroes where the driver cannot zero: a callback receives
 * only requests it can serve. Optional callbacks return
 * %G_IO_ERROR_NOT_SUPPORTED to hand the request back to the library.
 *
 * Errors name the URL, and the offset where there is one: a short read is
 * %IMGXFER_ERROR_SHORT_READ, a failing helper %IMGXFER_ERROR_DRIVER, a
 * malformed image %IMGXFER_ERROR_BAD_IMAGE, plain I/O errors
 * %G_IO_ERROR (g_io_error_from_errno()).
 *
 * A driver built as a module adds IMGXFER_DEFINE_DRIVER_MODULE(); the
 * guide "Writing a driver" in the source tree (docs/writing-a-driver.md)
 * walks through a complete module, built against the installed
 * `imgxfer-1` pkg-config file.
 */

G_BEGIN_DECLS

/**
 * ImgxferDriverSpec: (skip)
 * @name: #ImgxferBackendClass.name
 * @description: #ImgxferBackendClass.description
 * @schemes: #ImgxferBackendClass.schemes
 * @formats: #ImgxferBackendClass.formats
 * @init: called on each new instance, before open (set file descriptors
 *   to -1 there, so that @finalize can tell them from opened ones)
 * @finalize: called when an instance goes, to release its memory (after
 *   @close)
 * @open: #ImgxferBackendClass.open; required
 * @clone: #ImgxferBackendClass.clone
 * @get_local_file: #ImgxferBackendClass.get_local_file
 * @get_local_files: #ImgxferBackendClass.get_local_files
 * @close: #ImgxferBackendClass.close
 * @create: #ImgxferBackendClass.create
 * @info: #ImgxferBackendClass.info
 * @measure: #ImgxferBackendClass.measure
 * @checksum: #ImgxferBackendClass.checksum
 * @list_members: #ImgxferBackendClass.list_members
 * @pread: #ImgxferSourceInterface.pread; with it the driver is a source
 * @extents: #ImgxferSourceInterface.extents
 * @pwrite: #ImgxferDestinationInterface.pwrite; with it the driver is a
 *   destination
 * @zero: #ImgxferDestinationInterface.zero
 * @flush: #ImgxferDestinationInterface.flush
 * @signatures: #ImgxferBackendClass.signatures
 *
 * What a driver is, as data: the class fields and methods of an
 * #ImgxferBackend subclass and its roles' methods, for
 * IMGXFER_DEFINE_DRIVER(). Members left %NULL keep the library's
 * defaults. New members are added at the end. A driver keeps its table in
 * a static const variable:
 *
 * |[<!-- language="C" -->
 * static const char *const pattern_schemes[] = { "pattern", NULL };
 *
 * static const ImgxferDriverSpec pattern_spec = {
 *   .name = "pattern",
 *   .description = "a generated test pattern",
 *   .schemes = pattern_schemes,
 *   .open = pattern_open,
 *   .pread = pattern_pread,
 * };
 *
 * IMGXFER_DEFINE_SIMPLE_DRIVER (PatternBackend, pattern_backend,
 *                               &pattern_spec)
 * ]|
 *
 * Since: 0.1
 */
typedef struct _ImgxferDriverSpec ImgxferDriverSpec;

struct _ImgxferDriverSpec
{
  const char *name;
  const char *description;
  const char *const *schemes;
  const char *const *formats;

  void (*init) (ImgxferBackend *self);
  void (*finalize) (ImgxferBackend *self);

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
  gboolean (*get_local_files) (ImgxferBackend *self,
                               GPtrArray *files,
                               GCancellable *cancellable,
                               GError **error);
  gboolean (*close) (ImgxferBackend *self,
                     GCancellable *cancellable,
                     GError **error);
  ImgxferBackend *(*create) (ImgxferBackendClass *klass,
                             const char *url,
                             const char *format,
                             guint64 size,
                             const char *backing_file,
                             const char *backing_format,
                             ImgxferOpenOptions *options,
                             GCancellable *cancellable,
                             GError **error);
  JsonNode *(*info) (ImgxferBackendClass *klass,
                     const char *url,
                     ImgxferOpenOptions *options,
                     GCancellable *cancellable,
                     GError **error);
  JsonNode *(*measure) (ImgxferBackendClass *klass,
                        const char *url,
                        ImgxferOpenOptions *options,
                        const char *target_format,
                        GCancellable *cancellable,
                        GError **error);
  char *(*checksum) (ImgxferBackend *self,
                     const char *algorithm,
                     gsize block_size,
                     GCancellable *cancellable,
                     GError **error);
  JsonNode *(*list_members) (ImgxferBackendClass *klass,
                             const char *path,
                             GCancellable *cancellable,
                             GError **error);

  gboolean (*pread) (ImgxferSource *self,
                     void *buffer,
                     gsize length,
                     guint64 offset,
                     GCancellable *cancellable,
                     GError **error);
  gboolean (*extents) (ImgxferSource *self,
                       ImgxferExtentContext context,
                       guint64 offset,
                       guint64 length,
                       GArray *extents,
                       GCancellable *cancellable,
                       GError **error);

  gboolean (*pwrite) (ImgxferDestination *self,
                      const void *buffer,
                      gsize length,
                      guint64 offset,
                      GCancellable *cancellable,
                      GError **error);
  gboolean (*zero) (ImgxferDestination *self,
                    guint64 offset,
                    guint64 length,
                    ImgxferZeroFlags flags,
                    GCancellable *cancellable,
                    GError **error);
  gboolean (*flush) (ImgxferDestination *self,
                     GCancellable *cancellable,
                     GError **error);

  const char *const *signatures;
};

IMGXFER_AVAILABLE_IN_0_1
void imgxfer_driver_spec_init_class (const ImgxferDriverSpec *spec,
                                     ImgxferBackendClass *klass);
IMGXFER_AVAILABLE_IN_0_1
void imgxfer_driver_spec_init_source (const ImgxferDriverSpec *spec,
                                      ImgxferSourceInterface *iface);
IMGXFER_AVAILABLE_IN_0_1
void imgxfer_driver_spec_init_destination (
    const ImgxferDriverSpec *spec,
    ImgxferDestinationInterface *iface);

/**
 * IMGXFER_DEFINE_DRIVER:
 * @TypeName: the backend type's name in CamelCase (PatternBackend)
 * @type_name: the same in lower case with underscores (pattern_backend)
 * @spec: the address of the driver's static #ImgxferDriverSpec
 *
 * Defines a final #ImgxferBackend subclass declared with
 * G_DECLARE_FINAL_TYPE(), whose instance struct the driver writes (the
 * parent first, then its own state), from @spec: its class, its
 * #ImgxferSource role when @spec has pread, its #ImgxferDestination role
 * when it has pwrite. Put it after the functions that @spec names.
 *
 * Since: 0.1
 */
#define IMGXFER_DEFINE_DRIVER(TypeName, type_name, spec)                     \
  static void type_name##_source_init (ImgxferSourceInterface *iface)        \
  {                                                                          \
    imgxfer_driver_spec_init_source ((spec), iface);                         \
  }                                                                          \
  static void type_name##_destination_init (                                 \
      ImgxferDestinationInterface *iface)                                    \
  {                                                                          \
    imgxfer_driver_spec_init_destination ((spec), iface);                    \
  }                                                                          \
  G_DEFINE_FINAL_TYPE_WITH_CODE (                                            \
      TypeName, type_name, IMGXFER_TYPE_BACKEND,                             \
      if ((spec)->pread != NULL)                                             \
          G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE,                        \
                                 type_name##_source_init)                    \
      if ((spec)->pwrite != NULL)                                            \
          G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,                   \
                                 type_name##_destination_init))              \
  static void type_name##_finalize (GObject *object)                         \
  {                                                                          \
    if ((spec)->finalize != NULL)                                            \
      (spec)->finalize (IMGXFER_BACKEND (object));                           \
    G_OBJECT_CLASS (type_name##_parent_class)->finalize (object);            \
  }                                                                          \
  static void type_name##_class_init (TypeName##Class *klass)                \
  {                                                                          \
    G_OBJECT_CLASS (klass)->finalize = type_name##_finalize;                 \
    imgxfer_driver_spec_init_class ((spec), IMGXFER_BACKEND_CLASS (klass));  \
  }                                                                          \
  static void type_name##_init (TypeName *self)                              \
  {                                                                          \
    if ((spec)->init != NULL)                                                \
      (spec)->init (IMGXFER_BACKEND (self));                                 \
  }

/**
 * IMGXFER_DEFINE_SIMPLE_DRIVER:
 * @TypeName: the backend type's name in CamelCase (PatternBackend)
 * @type_name: the same in lower case with underscores (pattern_backend)
 * @spec: the address of the driver's static #ImgxferDriverSpec
 *
 * IMGXFER_DEFINE_DRIVER() for a driver whose instances keep no state of
 * their own (what open learns it declares: size, capabilities; the URL
 * and options are the backend's): it declares the type too, so the
 * driver is its callbacks and @spec. The type function is
 * `type_name_get_type()`.
 *
 * Since: 0.1
 */
#define IMGXFER_DEFINE_SIMPLE_DRIVER(TypeName, type_name, spec)              \
  typedef struct                                                             \
  {                                                                          \
    ImgxferBackend parent_instance;                                          \
  } TypeName;                                                                \
  typedef struct                                                             \
  {                                                                          \
    ImgxferBackendClass parent_class;                                        \
  } TypeName##Class;                                                         \
  GType type_name##_get_type (void);                                         \
  IMGXFER_DEFINE_DRIVER (TypeName, type_name, spec)

G_END_DECLS
