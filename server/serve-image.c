/* serve-image.c: the image behind a ticket and its pool of connections
 *
 * The first backend is opened with imgxfer_open(); the others are its
 * clones, at most imgxfer_backend_get_max_connections() of them. A
 * request holds one from its first backend call to its last, so that one
 * backend is used by one thread at a time, as drivers expect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-image.h"

/* imageio's limit on connections per transfer. */
#define MAX_CLIENTS 8

struct _ServeImage
{
  char *url;
  char *format;
  char *bitmap;
  gboolean writable;

  GMutex lock;
  GCond released;
  gboolean opening;
  ImgxferBackend *first; /* the backend opened first, kept for cloning */
  GPtrArray *idle;       /* ImgxferBackend, ready for a request */
  guint count;           /* backends opened, idle or in use */
  gboolean closed;       /* the ticket is gone: nothing opens again */
};

ServeImage *
serve_image_new (const char *url, const char *format, const char *bitmap,
                 gboolean writable)
{
  ServeImage *self = g_new0 (ServeImage, 1);

  self->url = g_strdup (url);
  self->format = g_strdup (format ? format : "raw");
  self->bitmap = g_strdup (bitmap);
  self->writable = writable;
  g_mutex_init (&self->lock);
  g_cond_init (&self->released);
  self->idle = g_ptr_array_new_with_free_func (g_object_unref);
  return self;
}

void
serve_image_close (ServeImage *self)
{
  g_autoptr (GPtrArray) idle = NULL;
  g_autoptr (ImgxferBackend) first = NULL;

  g_mutex_lock (&self->lock);
  idle = g_steal_pointer (&self->idle);
  self->idle = g_ptr_array_new_with_free_func (g_object_unref);
  self->count -= idle->len;
  /* Without the first backend, the last one released closes the image
   * (and stops its qemu-nbd, if any). */
  first = g_steal_pointer (&self->first);
  self->closed = TRUE;
  g_cond_broadcast (&self->released);
  g_mutex_unlock (&self->lock);

  /* A writer's data is on disk before its backend goes; a flush error has
   * no client left to hear it, so it is logged. */
  if (self->writable)
    for (guint i = 0; i < idle->len; i++)
      {
        g_autoptr (GError) error = NULL;

        if (!imgxfer_destination_flush (idle->pdata[i], NULL, &error))
          g_printerr ("imgxfer: %s\n", error->message);
      }
}

void
serve_image_free (ServeImage *self)
{
  serve_image_close (self);
  g_ptr_array_unref (self->idle);
  g_clear_object (&self->first);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->released);
  g_free (self->url);
  g_free (self->format);
  g_free (self->bitmap);
  g_free (self);
}

static ImgxferBackend *
open_first (ServeImage *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, self->format);
  imgxfer_open_options_set_writable (options, self->writable);
  if (self->bitmap)
    imgxfer_open_options_set_bitmap (options, self->bitmap);
  imgxfer_open_options_set_connections (options, MAX_CLIENTS);
  return imgxfer_open (self->url, options, cancellable, error);
}

/* Opens one more backend outside the lock; the count was taken before. */
static ImgxferBackend *
open_one (ServeImage *self, GCancellable *cancellable, GError **error)
{
  ImgxferBackend *backend;

  g_mutex_lock (&self->lock);
  while (self->opening)
    g_cond_wait (&self->released, &self->lock);
  if (self->closed)
    {
      self->count--;
      g_mutex_unlock (&self->lock);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                   "%s: the ticket was removed", self->url);
      return NULL;
    }
  if (self->first != NULL)
    {
      g_autoptr (ImgxferBackend) first = g_object_ref (self->first);
      g_mutex_unlock (&self->lock);
      backend = imgxfer_backend_clone (first, cancellable, error);
      g_mutex_lock (&self->lock);
    }
  else
    {
      self->opening = TRUE;
      g_mutex_unlock (&self->lock);
      backend = open_first (self, cancellable, error);
      g_mutex_lock (&self->lock);
      self->opening = FALSE;
      if (backend && !self->closed)
        self->first = g_object_ref (backend);
    }
  if (backend == NULL)
    self->count--;
  g_cond_broadcast (&self->released);
  g_mutex_unlock (&self->lock);
  return backend;
}

static guint
max_backends (ServeImage *self)
{
  if (self->first == NULL)
    return 1;
  return MAX (
      1, MIN (imgxfer_backend_get_max_connections (self->first), MAX_CLIENTS));
}

ImgxferBackend *
serve_image_acquire (ServeImage *self, GCancellable *cancellable,
                     GError **error)
{
  g_mutex_lock (&self->lock);
  for (;;)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      if (self->closed)
        {
          g_mutex_unlock (&self->lock);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "%s: the ticket was removed", self->url);
          return NULL;
        }
      if (self->idle->len > 0)
        {
          ImgxferBackend *backend
              = g_ptr_array_steal_index_fast (self->idle, self->idle->len - 1);
          g_mutex_unlock (&self->lock);
          return backend;
        }
      if (!self->opening && self->count < max_backends (self))
        {
          self->count++;
          g_mutex_unlock (&self->lock);
          return open_one (self, cancellable, error);
        }
      /* Waits in slices, so that a cancelled request stops waiting. */
      g_cond_wait_until (&self->released, &self->lock,
                         g_get_monotonic_time () + G_USEC_PER_SEC / 10);
    }
}

void
serve_image_release (ServeImage *self, ImgxferBackend *backend)
{
  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      /* Released after the image was closed: flushed and closed now. */
      self->count--;
      g_mutex_unlock (&self->lock);
      if (self->writable)
        imgxfer_destination_flush (IMGXFER_DESTINATION (backend), NULL, NULL);
      g_object_unref (backend);
      return;
    }
  g_ptr_array_add (self->idle, backend);
  g_cond_broadcast (&self->released);
  g_mutex_unlock (&self->lock);
}

gboolean
serve_image_flush (ServeImage *self, ImgxferBackend *backend,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) idle = NULL;
  gboolean ok;

  g_mutex_lock (&self->lock);
  idle = g_steal_pointer (&self->idle);
  self->idle = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_unlock (&self->lock);

  ok = imgxfer_destination_flush (IMGXFER_DESTINATION (backend), cancellable,
                                  error);
  for (guint i = 0; ok && i < idle->len; i++)
    ok = imgxfer_destination_flush (idle->pdata[i], cancellable, error);

  while (idle->len > 0)
    serve_image_release (self,
                         g_ptr_array_steal_index_fast (idle, idle->len - 1));
  return ok;
}

guint
serve_image_max_readers (ImgxferBackend *backend)
{
  return MIN (imgxfer_backend_get_max_connections (backend), MAX_CLIENTS);
}

guint
serve_image_max_writers (ImgxferBackend *backend)
{
  /* One writer for a local file, as imageio's file backend: its writes
   * go through one page cache, more writers only compete for it. */
  if (imgxfer_backend_get_local_file (backend, NULL, NULL, NULL))
    return 1;
  return serve_image_max_readers (backend);
}
