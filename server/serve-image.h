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
 * its disk. A writable image must hold @size bytes. */
ServeImage *serve_image_new (const char *url, const char *format,
                             const char *bitmap, gboolean writable,
                             guint64 size);
/* Flushes the backends and closes them all; what is left of the image
 * goes once those a worker is closing are closed. */
void serve_image_free (ServeImage *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeImage, serve_image_free)

/* The backend of the connection @owner for one request: the one it had,
 * a new clone while the image allows more, or one that no request uses.
 * Blocks: call it from a worker thread. */
ImgxferBackend *serve_image_acquire (ServeImage *self, gconstpointer owner,
                                     GCancellable *cancellable, GError **error);
/* Gives back what serve_image_acquire() returned, with the @error of its
 * last call (NULL: none): one that lost writes (IMGXFER_ERROR_RECONNECTED)
 * is closed, since it no longer knows they were lost, and every later
 * request of its connection fails with that error. A backend lent by a
 * request that will take it again (@lend) serves others meanwhile, and
 * stays for that request when the ticket goes. */
void serve_image_release (ServeImage *self, ImgxferBackend *backend,
                          const GError *error, gboolean lend);

/* A write or zero of @owner through @backend (acquired by it) was
 * acknowledged without a flush: until a flush of @backend covers it, a
 * loss that @backend finds is @owner's too, whichever connection finds
 * it, and fails @owner's next request. */
void serve_image_wrote (ServeImage *self, ImgxferBackend *backend,
                        gconstpointer owner);

/* The connection @owner closed: its backends are flushed and closed, in a
 * worker thread, those in use once they are given back; but one that
 * holds writes of another connection, not flushed yet, stays for it. */
void serve_image_disown (ServeImage *self, gconstpointer owner);

/* Flushes every backend of the image, @backend (acquired by the caller)
 * and the idle ones, so that a flush covers what any connection wrote;
 * then, as serve_image_flush_writes(), those that hold writes of @owner
 * and serve other requests. An idle backend that lost writes fails the
 * flush with IMGXFER_ERROR_RECONNECTED, and the next request of its own
 * connection fails so too. */
gboolean serve_image_flush (ServeImage *self, ImgxferBackend *backend,
                            gconstpointer owner, GCancellable *cancellable,
                            GError **error);

/* Flushes @backend (acquired by the caller) and every other backend that
 * holds writes of @owner (serve_image_wrote()) not flushed yet, waiting
 * for those that serve other requests: until they are given back or
 * flushed by those requests, the wait of serve_image_set_flush_wait() at
 * most (then a SERVE_ERROR 503: the client may try again), or
 * @cancellable. A loss of @owner's writes fails it with
 * IMGXFER_ERROR_RECONNECTED, and the removal of the ticket with
 * G_IO_ERROR_CANCELLED. */
gboolean serve_image_flush_writes (ServeImage *self, ImgxferBackend *backend,
                                   gconstpointer owner,
                                   GCancellable *cancellable, GError **error);

/* How long a flush waits for a backend in use (30 s unless set), set
 * before the first request. */
void serve_image_set_flush_wait (ServeImage *self, guint msec);

/* The ticket is gone: flushes and closes every backend no request uses,
 * now, and the others when they are given back; nothing opens again. */
void serve_image_close (ServeImage *self);

/* What OPTIONS reports, from the opened image. */
guint serve_image_max_readers (ImgxferBackend *backend);
guint serve_image_max_writers (ImgxferBackend *backend);

G_END_DECLS
