/* imgxfer-qemu-create.c: new images of qemu's formats, by qemu-img create
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qemu-backend.h"
#include "imgxfer-qemu-img.h"

static gboolean
run_create (const char *path, const char *format, guint64 size,
            const char *backing_file, const char *backing_format,
            GCancellable *cancellable, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *size_str = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  g_auto (GStrv) argv = NULL;

  g_strv_builder_add_many (builder, "create", "-q", "-f", format, NULL);
  if (backing_file != NULL)
    {
      g_strv_builder_add_many (builder, "-b", backing_file, NULL);
      if (backing_format != NULL)
        g_strv_builder_add_many (builder, "-F", backing_format, NULL);
    }
  /* A file named "-x.qcow2" is not an option. */
  g_strv_builder_add_many (builder, "--", path, size_str, NULL);
  argv = g_strv_builder_end (builder);

  return _imgxfer_qemu_img ((const char *const *)argv, NULL, cancellable,
                            error);
}

/* The class's create: `qemu-img create`, then the image opened through
 * qemu-nbd like any other. */
ImgxferBackend *
_imgxfer_qemu_create (ImgxferBackendClass *klass, const char *url,
                      const char *format, guint64 size,
                      const char *backing_file, const char *backing_format,
                      ImgxferOpenOptions *options, GCancellable *cancellable,
                      GError **error)
{
  g_autofree char *path = _imgxfer_local_path_for_create (url, error);

  if (path == NULL
      || !run_create (path, format, size, backing_file, backing_format,
                      cancellable, error))
    return NULL;
  return g_initable_new (G_TYPE_FROM_CLASS (klass), cancellable, error, "url",
                         url, "options", options, NULL);
}
