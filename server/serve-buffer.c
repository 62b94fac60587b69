/* serve-buffer.c: the memory that request bodies pass through
 *
 * Buffers are mapped apart from malloc's heaps. From malloc, a freed
 * buffer of a few hundred KiB or more stays in the heap (the arena) of
 * the thread that took it, and glibc gives the threads of a busy daemon
 * (server threads, one job thread per busy connection) up to eight
 * arenas per core: under load each arena kept its peak, and the daemon
 * their sum, 77-90 MiB with 10 uploads and 30 download connections, of
 * which 30 MiB were free chunks. A mapped buffer's pages go back to the
 * system when it is unmapped, and the budget bounds those mapped.
 *
 * Given-back buffers are kept for reuse, as a new mapping faults in
 * every page again (a tenth of the daemon's time on a PUT), up to
 * MAX_FREE bytes, so that an idle daemon holds little; kept ones count in
 * the budget and are unmapped when a buffer of another size needs room.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/mman.h>

#include "serve-buffer.h"

#define MAX_FREE (SERVE_BUFFER_BUDGET / 2)

static GMutex lock;
static gsize used; /* bytes given out or kept, at most the budget */
static gsize kept; /* bytes of those kept in free */
static GQueue free_buffers;
static GQueue waiting; /* ServeBufferWait */

static void
buffer_unmap (ServeBuffer *buffer)
{
  munmap (buffer->data, buffer->size);
  g_free (buffer);
}

static ServeBuffer *
buffer_map (gsize size)
{
  ServeBuffer *buffer = g_new0 (ServeBuffer, 1);

  buffer->data = mmap (NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /* As g_malloc() does when memory runs out. */
  if (buffer->data == MAP_FAILED)
    g_error ("serve: failed to map %" G_GSIZE_FORMAT " bytes", size);
  buffer->size = size;
  return buffer;
}

/* A kept buffer of @size, taken out of free_buffers. */
static ServeBuffer *
take_kept (gsize size)
{
  for (GList *l = free_buffers.head; l; l = l->next)
    {
      ServeBuffer *buffer = l->data;

      if (buffer->size == size)
        {
          g_queue_delete_link (&free_buffers, l);
          kept -= size;
          return buffer;
        }
    }
  return NULL;
}

/* Unmaps kept buffers until @size more bytes fit in the budget, or none
 * is left. */
static void
make_room (gsize size)
{
  while (used + size > SERVE_BUFFER_BUDGET && free_buffers.length > 0)
    {
      ServeBuffer *buffer = g_queue_pop_head (&free_buffers);

      kept -= buffer->size;
      used -= buffer->size;
      buffer_unmap (buffer);
    }
}

ServeBuffer *
serve_buffer_take (gsize size, gboolean spare)
{
  ServeBuffer *buffer = NULL;
  gboolean map = FALSE;

  g_mutex_lock (&lock);
  if (!spare || waiting.length == 0)
    {
      buffer = take_kept (size);
      make_room (buffer ? 0 : size);
      map = buffer == NULL && used + size <= SERVE_BUFFER_BUDGET;
      if (map)
        used += size;
    }
  g_mutex_unlock (&lock);
  if (map)
    buffer = buffer_map (size);
  if (buffer)
    buffer->len = 0;
  return buffer;
}

static gboolean
wait_dispatch (gpointer data)
{
  ServeBufferWait *wait = data;

  g_mutex_lock (&lock);
  g_clear_pointer (&wait->source, g_source_unref);
  g_mutex_unlock (&lock);
  g_clear_pointer (&wait->context, g_main_context_unref);
  wait->ready (wait->data);
  return G_SOURCE_REMOVE;
}

/* With the lock held: wakes the first waiting requests that what is
 * free or kept can serve, not all of them, as many may wait while one
 * chunk after another is given back. */
static void
wake_some (void)
{
  gsize room = SERVE_BUFFER_BUDGET - used + kept;
  ServeBufferWait *wait;

  while ((wait = g_queue_peek_head (&waiting)) && wait->size <= room)
    {
      g_queue_pop_head (&waiting);
      room -= wait->size;
      wait->queued = FALSE;
      wait->source = g_idle_source_new ();
      g_source_set_callback (wait->source, wait_dispatch, wait, NULL);
      g_source_attach (wait->source, wait->context);
    }
}

void
serve_buffer_give (ServeBuffer *buffer)
{
  if (buffer == NULL)
    return;
  g_mutex_lock (&lock);
  if (kept + buffer->size <= MAX_FREE)
    {
      g_queue_push_head (&free_buffers, buffer);
      kept += buffer->size;
      buffer = NULL;
    }
  else
    used -= buffer->size;
  wake_some ();
  g_mutex_unlock (&lock);
  if (buffer)
    buffer_unmap (buffer);
}

GBytes *
serve_buffer_free_to_bytes (ServeBuffer *buffer)
{
  return g_bytes_new_with_free_func (buffer->data, buffer->len,
                                     (GDestroyNotify)serve_buffer_give, buffer);
}

void
serve_buffer_wait (ServeBufferWait *wait, gsize size, ServeBufferReady ready,
                   gpointer data)
{
  g_return_if_fail (!wait->queued && wait->source == NULL);

  wait->size = size;
  wait->ready = ready;
  wait->data = data;
  wait->context = g_main_context_ref_thread_default ();
  g_mutex_lock (&lock);
  wait->queued = TRUE;
  g_queue_push_tail (&waiting, wait);
  /* Buffers given back since the caller's serve_buffer_take() woke no
   * one for it. */
  wake_some ();
  g_mutex_unlock (&lock);
}

void
serve_buffer_wait_cancel (ServeBufferWait *wait)
{
  g_mutex_lock (&lock);
  if (wait->queued)
    g_queue_remove (&waiting, wait);
  wait->queued = FALSE;
  if (wait->source)
    {
      g_source_destroy (wait->source);
      g_clear_pointer (&wait->source, g_source_unref);
    }
  /* A request woken that ends before it took its buffer (its client
   * gone, its ticket deleted) held the turn of those woken after it:
   * with no other buffer to come back, they would wait for good. */
  wake_some ();
  g_mutex_unlock (&lock);
  g_clear_pointer (&wait->context, g_main_context_unref);
}
