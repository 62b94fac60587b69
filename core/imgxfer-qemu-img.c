/* imgxfer-qemu-img.c: running qemu-img
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-img-private.h"

gboolean
_imgxfer_qemu_img (const char *const *argv,
                   char **standard_output,
                   GCancellable *cancellable,
                   GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) full_argv = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_strv_builder_add (builder, "qemu-img");
  g_strv_builder_addv (builder, (const char **)argv);
  full_argv = g_strv_builder_end (builder);

  process = g_subprocess_newv ((const char *const *)full_argv,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                               error);
  if (process == NULL)
    {
      g_prefix_error (error, "Cannot run qemu-img: ");
      return FALSE;
    }

  if (!g_subprocess_communicate_utf8 (process, NULL, cancellable, &out, &err,
                                      error))
    return FALSE;

  if (!g_subprocess_get_if_exited (process)
      || g_subprocess_get_exit_status (process) != 0)
    {
      g_strstrip (err);
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "qemu-img %s failed: %s", argv[0],
                   err[0] ? err : "no message");
      return FALSE;
    }

  if (standard_output)
    *standard_output = g_steal_pointer (&out);
  return TRUE;
}
