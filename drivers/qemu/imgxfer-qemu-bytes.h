/* imgxfer-qemu-bytes.h: where an image's bytes lie on this host,
 * and how qemu names them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-open-options.h>

G_BEGIN_DECLS

/* The bytes of an image as a range of a local file or block device. */
typedef struct
{
  char *path;
  guint64 offset;
  guint64 size;
  gboolean whole;      /* the range is all of @path */
  guint64 padded_size; /* @size rounded up to 512 when @path holds those
                          bytes (tar pads members): qemu's raw driver only
                          takes ranges of whole sectors */
} ImgxferLocalBytes;

void _imgxfer_local_bytes_clear (ImgxferLocalBytes *bytes);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ImgxferLocalBytes, _imgxfer_local_bytes_clear)

/* Finds the bytes behind @protocol, an open protocol level (a file, a tar
 * member), and closes it. Returns FALSE with an error on failure; TRUE
 * with bytes->path NULL when the image is not local; *size (if not NULL)
 * is its size. */
gboolean _imgxfer_local_bytes_of (ImgxferBackend *protocol,
                                  ImgxferLocalBytes *bytes, guint64 *size,
                                  GCancellable *cancellable, GError **error);

/* Opens @url as raw through the protocol drivers (a file, a tar member)
 * and finds its bytes. Returns FALSE with an error on failure; TRUE with
 * bytes->path NULL when the image is not local, then *size (if not NULL)
 * is its size. */
gboolean _imgxfer_local_bytes_find (const char *url,
                                    ImgxferOpenOptions *options,
                                    ImgxferLocalBytes *bytes, guint64 *size,
                                    GCancellable *cancellable, GError **error);

/* The json: pseudo-filename under which qemu opens @bytes as @format
 * (NULL: probed), top layer only when @shallow. Always a json: filename,
 * even for a whole file: qemu would take "nbd:x" or "http:y" for a
 * protocol. */
char *_imgxfer_local_bytes_qemu_filename (const ImgxferLocalBytes *bytes,
                                          const char *format, gboolean shallow);

/* The json: pseudo-filename under which qemu opens the node @file (taken)
 * as @format (NULL: probed), top layer only when @shallow. */
char *_imgxfer_qemu_format_filename (const char *format,
                                     gboolean shallow,
                                     JsonNode *file);

G_END_DECLS
