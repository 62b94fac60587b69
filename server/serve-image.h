/* serve-image.h: the image behind a ticket and its pool of connections
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

typedef struct _ServeImage ServeImage;

/* Nothing is opened until the first acquire. @format NULL means raw: a
 * ticket's image is never probed, since a guest can write any header into
 * its disk. */
ServeImage *serve_image_new (const char *url, const char *format,
                             const char *bitmap, gboolean writable);
/* Flushes the writable backends and closes them all. */
void serve_image_free (ServeImage *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeImage, serve_image_free)

/* A backend for one request: an idle one, a new clone while the image
 * allows more connections, or else one another request releases. Blocks:
 * call it from a worker thread. */
ImgxferBackend *serve_image_acquire (ServeImage *self,
                                     GCancellable *cancellable, GError **error);
void serve_image_release (ServeImage *self, ImgxferBackend *backend);

/* Flushes every backend of the image, @backend (acquired by the caller)
 * and the idle ones, so that a flush covers what any connection wrote. */
gboolean serve_image_flush (ServeImage *self, ImgxferBackend *backend,
                            GCancellable *cancellable, GError **error);

/* Flushes and closes every idle backend; for shutdown. */
void serve_image_close (ServeImage *self);

/* What OPTIONS reports, from the opened image. */
guint serve_image_max_readers (ImgxferBackend *backend);
guint serve_image_max_writers (ImgxferBackend *backend);

G_END_DECLS
