/* serve-image.c: the image behind a ticket and its backends
 *
 * The first backend is opened with imgxfer_open_destination() for a
 * write ticket (the same policy as `imgxfer convert -n`: no format that
 * no driver writes, no image another process uses, none smaller than the
 * ticket) or imgxfer_open() for a read ticket; the others are its clones,
 * at most imgxfer_backend_get_max_connections() of them.
 *
 * A backend belongs to the client connection that first needed it and
 * serves that connection's requests, one at a time, as drivers expect,
 * until the connection closes: then it is flushed and closed. The first
 * backend is the exception while others are open: the clones are made
 * from it, so it stays, free for any connection, until it is the last
 * one. When every backend the image allows is taken, a connection
 * borrows one that another connection is not using rather than wait for
 * it to close.
 *
 * A backend borrowed so carries the writes of several connections until it
 * is flushed: each remembers whose writes it took without a flush, so
 * that a loss of them (IMGXFER_ERROR_RECONNECTED) reaches every one of
 * those connections, not only the one that found it, and that a flush of
 * one of them covers them all, waiting for those that serve another
 * request meanwhile.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-error.h"
#include "serve-image.h"
#include "serve-job.h"

/* imageio's limit on connections per transfer. */
#define MAX_CLIENTS 8

/* How long a flush waits for a backend that holds its connection's writes
 * and serves another request: half of the 60 s imgxfer's imageio driver
 * waits for an answer by default, so that a client hears the 503 rather
 * than a silence, and may try again on the same connection. */
#define FLUSH_WAIT_SECONDS 30

typedef struct
{
  ImgxferBackend *backend;
  gconstpointer owner; /* the connection it serves; NULL: none */
  gboolean busy;       /* a request is using it */
  gboolean orphan;     /* its connection closed */
  gboolean lost;       /* lost writes it had acknowledged: to be closed */
  gboolean lent;       /* given back by a request that takes it again: it stays
                        * when the ticket goes */
  /* The connections whose writes it acknowledged since its last flush. */
  GHashTable *writers;
} Slot;

struct _ServeImage
{
  gatomicrefcount ref; /* its ticket's, and one per job closing backends */
  char *url;
  char *format;
  char *bitmap;
  gboolean writable;
  guint64 size;

  GMutex lock;
  GCond changed;
  guint reserved;        /* backends being opened, counted in the limit */
  ImgxferBackend *first; /* the backend opened first, kept for cloning */
  GPtrArray *slots;      /* Slot */
  gboolean closed;       /* the ticket is gone: nothing opens again */
  guint closing;         /* backends taken out, not closed yet */
  GHashTable *lost;      /* owners whose writes a backend lost meanwhile */
  gint64 flush_wait;     /* usec a flush waits for a backend in use */
};

static void
slot_free (gpointer data)
{
  Slot *slot = data;

  g_hash_table_unref (slot->writers);
  g_free (slot);
}

ServeImage *
serve_image_new (const char *url, const char *format, const char *bitmap,
                 gboolean writable, guint64 size)
{
  ServeImage *self = g_new0 (ServeImage, 1);

  g_atomic_ref_count_init (&self->ref);
  self->url = g_strdup (url);
  self->format = g_strdup (format ? format : "raw");
  self->bitmap = g_strdup (bitmap);
  self->writable = writable;
  self->size = size;
  g_mutex_init (&self->lock);
  g_cond_init (&self->changed);
  self->slots = g_ptr_array_new_with_free_func (slot_free);
  self->lost = g_hash_table_new (NULL, NULL);
  self->flush_wait = FLUSH_WAIT_SECONDS * G_USEC_PER_SEC;
  return self;
}

/* Flushed first: a writer's data is on disk before its backend goes. An
 * error has no client left to hear it, so it is logged. */
static void
close_backend (ImgxferBackend *backend)
{
  g_autoptr (GError) error = NULL;

  if (!imgxfer_backend_close (backend, IMGXFER_CLOSE_FLUSH, NULL, &error))
    g_printerr ("imgxfer: closing %s: %s\n", imgxfer_backend_get_url (backend),
                error->message);
  g_object_unref (backend);
}

static void
image_unref (ServeImage *self)
{
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  g_ptr_array_unref (self->slots);
  g_hash_table_unref (self->lost);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->changed);
  g_free (self->url);
  g_free (self->format);
  g_free (self->bitmap);
  g_free (self);
}

typedef struct
{
  ServeImage *image;
  GPtrArray *backends; /* taken out by take_gone() */
} Closing;

/* Closes @backends, taken out by take_gone(). */
static void
close_all (ServeImage *self, GPtrArray *backends)
{
  for (guint i = 0; i < backends->len; i++)
    close_backend (backends->pdata[i]);
  g_mutex_lock (&self->lock);
  self->closing -= backends->len;
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
  g_ptr_array_unref (backends);
}

static void
close_work (gpointer data)
{
  Closing *closing = data;

  close_all (closing->image, closing->backends);
  image_unref (closing->image);
  g_free (closing);
}

/* Closing blocks (a flush, a qemu-nbd that stops): a server thread hands
 * it to a worker. */
static void
close_later (ServeImage *self, GPtrArray *backends)
{
  Closing *closing;

  if (backends->len == 0)
    {
      g_ptr_array_unref (backends);
      return;
    }
  closing = g_new0 (Closing, 1);
  closing->image = self;
  g_atomic_ref_count_inc (&self->ref);
  closing->backends = backends;
  serve_job_run (close_work, NULL, closing);
}

/* Takes the backend of @index out of the image, for closing. */
static ImgxferBackend *
remove_slot (ServeImage *self, guint index)
{
  Slot *slot = self->slots->pdata[index];
  ImgxferBackend *backend = g_steal_pointer (&slot->backend);

  self->closing++;
  g_ptr_array_remove_index_fast (self->slots, index);
  return backend;
}

/* Writes not flushed yet, of connections still open (serve_image_disown()
 * forgets those of a connection that closed). */
static gboolean
holds_writes (Slot *slot)
{
  return g_hash_table_size (slot->writers) > 0;
}

/* Takes out, into @gone, the idle backends that have no reason to stay:
 * those that lost writes; all of them once the ticket is gone, but one
 * lent, which stays for its request; those whose connection closed;
 * and the first one when it is the last one left and no connection owns
 * it, since no clone will be made from it before another connection
 * comes, which opens the image again. One that took writes of a
 * connection still open and not flushed yet stays, free for any: closing
 * flushes it, and a loss found then would reach no one. */
static void
take_gone (ServeImage *self, GPtrArray *gone)
{
  for (guint i = self->slots->len; i-- > 0;)
    {
      Slot *slot = self->slots->pdata[i];

      if (slot->busy || !slot->lost)
        continue;
      if (slot->backend == self->first)
        g_clear_object (&self->first);
      g_ptr_array_add (gone, remove_slot (self, i));
    }
  /* The clones are made from any backend left when the first was lost. */
  if (self->first == NULL && self->slots->len > 0 && !self->closed)
    self->first = g_object_ref (((Slot *)self->slots->pdata[0])->backend);
  for (guint i = self->slots->len; i-- > 0;)
    {
      Slot *slot = self->slots->pdata[i];

      if (!slot->busy && !slot->lent && slot->backend != self->first
          && (self->closed || (slot->orphan && !holds_writes (slot))))
        g_ptr_array_add (gone, remove_slot (self, i));
    }
  if (self->slots->len == 1 && self->reserved == 0)
    {
      Slot *slot = self->slots->pdata[0];

      if (!slot->busy && !slot->lent
          && (self->closed || (slot->owner == NULL && !holds_writes (slot))))
        {
          g_clear_object (&self->first);
          g_ptr_array_add (gone, remove_slot (self, 0));
        }
    }
}

void
serve_image_close (ServeImage *self)
{
  g_autoptr (GPtrArray) idle = g_ptr_array_new ();

  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  /* Nothing is cloned any more; the busy backends close when their
   * requests give them back. */
  g_clear_object (&self->first);
  take_gone (self, idle);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  close_all (self, g_steal_pointer (&idle));
}

void
serve_image_free (ServeImage *self)
{
  serve_image_close (self);
  image_unref (self);
}

/* A format on a remote image is read through qemu, which
 * imgxfer_open_destination() does not do: it takes guest data only. */
static gboolean
opens_as_destination (ServeImage *self)
{
  g_autoptr (ImgxferUrl) url = NULL;
  g_autofree char *path = NULL;

  if (!self->writable)
    return FALSE;
  if (g_str_equal (self->format, "raw"))
    return TRUE;
  url = imgxfer_url_parse (self->url, NULL);
  path = url ? imgxfer_url_get_local_path (url, NULL) : NULL;
  return path != NULL;
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
  if (opens_as_destination (self))
    return imgxfer_open_destination (self->url, options, self->size, NULL, NULL,
                                     NULL, IMGXFER_DESTINATION_EXISTING,
                                     cancellable, error);
  return imgxfer_open (self->url, options, cancellable, error);
}

static guint
max_backends (ServeImage *self)
{
  if (self->first == NULL)
    return 1;
  return MAX (
      1, MIN (imgxfer_backend_get_max_connections (self->first), MAX_CLIENTS));
}

static void
set_removed_error (ServeImage *self, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
               "%s: the ticket was removed", self->url);
}

/* Whether a request of @owner goes on, with the lock held: not cancelled,
 * its ticket still there unless it takes nothing the ticket's removal
 * closes (!@needs_ticket: the backend it lent stays for it), and no
 * writes of its connection lost (mark_lost()). */
static gboolean
goes_on (ServeImage *self, gconstpointer owner, gboolean needs_ticket,
         GCancellable *cancellable, GError **error)
{
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (self->closed && needs_ticket)
    {
      set_removed_error (self, error);
      return FALSE;
    }
  if (owner == NULL || !g_hash_table_contains (self->lost, owner))
    return TRUE;
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED,
               "%s: the connection to the image was replaced, and "
               "writes not flushed on it may be lost",
               self->url);
  return FALSE;
}

/* Waits for a change of the slots, with the lock held, until @deadline at
 * the latest; in slices, so that a cancelled request stops waiting. */
static void
wait_changed (ServeImage *self, gint64 deadline)
{
  g_cond_wait_until (
      &self->changed, &self->lock,
      MIN (deadline, g_get_monotonic_time () + G_USEC_PER_SEC / 10));
}

/* Opens one more backend for @owner, with the lock held on entry and on
 * return but not meanwhile; a place was reserved for it. */
static ImgxferBackend *
open_one (ServeImage *self, gconstpointer owner, GCancellable *cancellable,
          GError **error)
{
  g_autoptr (ImgxferBackend) template
      = self->first ? g_object_ref (self->first) : NULL;
  ImgxferBackend *backend;
  Slot *slot;

  self->reserved++;
  g_mutex_unlock (&self->lock);
  backend = template ? imgxfer_backend_clone (template, cancellable, error)
                     : open_first (self, cancellable, error);
  g_mutex_lock (&self->lock);
  self->reserved--;
  g_cond_broadcast (&self->changed);
  if (backend && self->closed)
    {
      g_mutex_unlock (&self->lock);
      close_backend (backend);
      g_mutex_lock (&self->lock);
      set_removed_error (self, error);
      return NULL;
    }
  if (backend == NULL)
    return NULL;
  if (template == NULL)
    self->first = g_object_ref (backend);
  slot = g_new0 (Slot, 1);
  slot->backend = backend;
  slot->owner = owner;
  slot->busy = TRUE;
  slot->writers = g_hash_table_new (NULL, NULL);
  g_ptr_array_add (self->slots, slot);
  return g_object_ref (backend);
}

/* An idle backend for @owner: its own, else one nobody owns, else (when
 * @borrow) another connection's. */
static Slot *
find_idle (ServeImage *self, gconstpointer owner, gboolean borrow)
{
  Slot *unowned = NULL, *other = NULL;

  for (guint i = 0; i < self->slots->len; i++)
    {
      Slot *slot = self->slots->pdata[i];

      if (slot->busy)
        continue;
      if (slot->owner == owner && owner != NULL)
        return slot;
      if (slot->owner == NULL)
        unowned = slot;
      else
        other = slot;
    }
  return unowned ? unowned : borrow ? other : NULL;
}

ImgxferBackend *
serve_image_acquire (ServeImage *self, gconstpointer owner,
                     GCancellable *cancellable, GError **error)
{
  ImgxferBackend *backend = NULL;

  g_mutex_lock (&self->lock);
  for (;;)
    {
      /* The image is opened anew once the backends taken out are closed:
       * a writer among them holds its lock until then, and a new one
       * would find it in use. Until the first backend is open the limit
       * is one, which the one being opened takes. */
      gboolean room
          = (self->first || self->closing == 0)
            && self->slots->len + self->reserved < max_backends (self);
      Slot *slot;

      slot = find_idle (self, owner, !room);
      if (!goes_on (self, owner, !(slot && slot->lent && slot->owner == owner),
                    cancellable, error))
        break;
      if (slot)
        {
          slot->busy = TRUE;
          slot->owner = owner;
          slot->orphan = FALSE;
          slot->lent = FALSE;
          backend = g_object_ref (slot->backend);
          break;
        }
      if (room)
        {
          backend = open_one (self, owner, cancellable, error);
          break;
        }
      wait_changed (self, G_MAXINT64);
    }
  g_mutex_unlock (&self->lock);
  return backend;
}

/* The slot of @backend, acquired: a busy backend is never taken out. */
static Slot *
find_slot (ServeImage *self, ImgxferBackend *backend)
{
  guint i = 0;

  while (((Slot *)self->slots->pdata[i])->backend != backend)
    i++;
  return self->slots->pdata[i];
}

/* A backend that lost writes (IMGXFER_ERROR_RECONNECTED) has replaced
 * its connection and forgotten the loss: through it, a later flush would
 * succeed over writes that are gone. It serves no request again, and
 * every later request of its connection fails so too, until that
 * connection closes: the loss may have been found by a flush of another
 * connection (serve_image_flush()), and its own client must hear of it.
 * So must the connections that borrowed it, or that it was borrowed
 * from, whose writes it took since its last flush: theirs are gone too,
 * and a flush of theirs through another backend would succeed over
 * them. */
static void
mark_lost (ServeImage *self, Slot *slot)
{
  GHashTableIter iter;
  gpointer writer;

  slot->lost = TRUE;
  if (slot->owner)
    g_hash_table_add (self->lost, (gpointer)slot->owner);
  g_hash_table_iter_init (&iter, slot->writers);
  while (g_hash_table_iter_next (&iter, &writer, NULL))
    g_hash_table_add (self->lost, writer);
}

void
serve_image_wrote (ServeImage *self, ImgxferBackend *backend,
                   gconstpointer owner)
{
  g_mutex_lock (&self->lock);
  if (owner)
    g_hash_table_add (find_slot (self, backend)->writers, (gpointer)owner);
  g_mutex_unlock (&self->lock);
}

/* After a flush of @backend: the writes it took are on disk, and the
 * flushes that wait for them (take_holding()) no longer do. */
static void
flushed (ServeImage *self, ImgxferBackend *backend)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove_all (find_slot (self, backend)->writers);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

static gboolean
flush_backend (ServeImage *self, ImgxferBackend *backend,
               GCancellable *cancellable, GError **error)
{
  if (!imgxfer_destination_flush (IMGXFER_DESTINATION (backend), cancellable,
                                  error))
    return FALSE;
  flushed (self, backend);
  return TRUE;
}

void
serve_image_release (ServeImage *self, ImgxferBackend *backend,
                     const GError *error, gboolean lend)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  Slot *slot;

  g_mutex_lock (&self->lock);
  slot = find_slot (self, backend);
  slot->busy = FALSE;
  /* A flush of the idle backends keeps what they were. */
  slot->lent |= lend;
  if (g_error_matches (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED))
    mark_lost (self, slot);
  take_gone (self, gone);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  g_object_unref (backend);
  close_later (self, g_steal_pointer (&gone));
}

void
serve_image_disown (ServeImage *self, gconstpointer owner)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();

  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->lost, owner);
  for (guint i = 0; i < self->slots->len; i++)
    {
      Slot *slot = self->slots->pdata[i];

      /* Another connection may come at the same address. */
      g_hash_table_remove (slot->writers, owner);
      if (slot->owner != owner)
        continue;
      slot->owner = NULL;
      slot->orphan = TRUE;
      slot->lent = FALSE;
    }
  take_gone (self, gone);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  close_later (self, g_steal_pointer (&gone));
}

/* A backend other than @own that holds writes of @owner not flushed yet,
 * taken (busy) for a flush; NULL, without an error, when none holds any.
 * One that serves another request is waited for, until it is given back,
 * or flushed by that request, or @deadline. */
static ImgxferBackend *
take_holding (ServeImage *self, ImgxferBackend *own, gconstpointer owner,
              gint64 deadline, GCancellable *cancellable, GError **error)
{
  ImgxferBackend *backend = NULL;

  g_mutex_lock (&self->lock);
  for (;;)
    {
      Slot *holding = NULL;

      for (guint i = 0; i < self->slots->len && !holding; i++)
        {
          Slot *slot = self->slots->pdata[i];

          if (slot->backend != own
              && g_hash_table_contains (slot->writers, owner))
            holding = slot;
        }
      /* Once the ticket is gone, a backend given back is closed, its
       * flush heard by no one: a flush that needs one fails, one whose
       * writes were all on its own backend stands. One that lost the
       * writes was closed, and holds them no more. */
      if (!goes_on (self, owner, holding != NULL, cancellable, error)
          || holding == NULL)
        break;
      if (!holding->busy)
        {
          holding->busy = TRUE;
          backend = g_object_ref (holding->backend);
          break;
        }
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, SERVE_ERROR, 503,
                       "%s: the flush timed out waiting for a backend that "
                       "holds writes of this connection and serves another "
                       "request; try again",
                       self->url);
          break;
        }
      wait_changed (self, deadline);
    }
  g_mutex_unlock (&self->lock);
  return backend;
}

/* Flushes every backend but @own that holds writes of @owner, those busy
 * with other requests once they are free: a flush that succeeded over
 * them would tell its client that writes are safe which a restart of the
 * image's server still loses. Two connections flushing so wait for no
 * cycle: each flushed its own backend first, which covered the other's
 * writes on it and woke it (flushed()). */
static gboolean
flush_writes_of (ServeImage *self, ImgxferBackend *own, gconstpointer owner,
                 GCancellable *cancellable, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + self->flush_wait;
  g_autoptr (GError) local_error = NULL;
  ImgxferBackend *backend;

  if (owner == NULL)
    return TRUE;
  while ((backend = take_holding (self, own, owner, deadline, cancellable,
                                  &local_error)))
    {
      gboolean ok = flush_backend (self, backend, cancellable, &local_error);

      /* One that lost writes is closed, and fails @owner's later
       * requests too. */
      serve_image_release (self, backend, local_error, FALSE);
      if (!ok)
        break;
    }
  if (local_error == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* The idle backends, taken (busy) for a flush. */
static GPtrArray *
take_idle (ServeImage *self)
{
  GPtrArray *idle = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->slots->len; i++)
    {
      Slot *slot = self->slots->pdata[i];

      if (slot->busy)
        continue;
      slot->busy = TRUE;
      g_ptr_array_add (idle, g_object_ref (slot->backend));
    }
  g_mutex_unlock (&self->lock);
  return idle;
}

gboolean
serve_image_flush (ServeImage *self, ImgxferBackend *backend,
                   gconstpointer owner, GCancellable *cancellable,
                   GError **error)
{
  g_autoptr (GPtrArray) idle = take_idle (self);
  g_autoptr (GError) idle_error = NULL;
  gboolean ok;

  ok = flush_backend (self, backend, cancellable, error);
  /* An idle backend that lost writes fails this flush, which did not
   * cover them, and is closed (serve_image_release()). */
  for (guint i = 0; ok && i < idle->len; i++)
    {
      ok = flush_backend (self, idle->pdata[i], cancellable, &idle_error);
      if (!ok)
        {
          serve_image_release (self, g_ptr_array_steal_index (idle, i),
                               idle_error, FALSE);
          g_propagate_error (error, g_steal_pointer (&idle_error));
        }
    }

  while (idle->len > 0)
    serve_image_release (
        self, g_ptr_array_steal_index_fast (idle, idle->len - 1), NULL, FALSE);
  return ok && flush_writes_of (self, backend, owner, cancellable, error);
}

gboolean
serve_image_flush_writes (ServeImage *self, ImgxferBackend *backend,
                          gconstpointer owner, GCancellable *cancellable,
                          GError **error)
{
  return flush_backend (self, backend, cancellable, error)
         && flush_writes_of (self, backend, owner, cancellable, error);
}

void
serve_image_set_flush_wait (ServeImage *self, guint msec)
{
  self->flush_wait = (gint64)msec * 1000;
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
