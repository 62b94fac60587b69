/* imgxfer-qemu-img.h: running qemu-img
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Runs qemu-img with @argv (without the program name). On failure the
 * error carries qemu-img's own message. */
gboolean _imgxfer_qemu_img (const char *const *argv, char **standard_output,
                            GCancellable *cancellable, GError **error);

/* Runs qemu-img with @argv, which asks for --output=json, and returns
 * the root of what it printed (a null node if nothing), or NULL with an
 * error. */
JsonNode *_imgxfer_qemu_img_json (const char *const *argv,
                                  GCancellable *cancellable, GError **error);

/* Called with each line of qemu-img's output, without its newline.
 * Returns TRUE to go on; FALSE with @error set to fail, or FALSE without
 * an error to stop reading (qemu-img is then killed, and its status does
 * not matter). */
typedef gboolean (*ImgxferQemuImgLineFunc) (const char *line,
                                            gpointer user_data, GError **error);

/* Runs qemu-img with @argv and hands its output to @line_func line by
 * line as it comes, so that a long output is never held whole. */
gboolean _imgxfer_qemu_img_lines (const char *const *argv,
                                  ImgxferQemuImgLineFunc line_func,
                                  gpointer user_data, GCancellable *cancellable,
                                  GError **error);

G_END_DECLS
