/* serve-buffer.h: the memory that request bodies pass through
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What every buffer of the daemon holds at most, given out or kept for
 * reuse: the bound on the memory of the bodies in flight, whatever the
 * number of clients. A request that finds it spent waits for a buffer
 * given back (serve_buffer_wait()) with its client paused. */
#define SERVE_BUFFER_BUDGET (32 * 1024 * 1024)

typedef struct
{
  guint8 *data;
  gsize size; /* never grows */
  gsize len;  /* bytes of data held */
} ServeBuffer;

typedef void (*ServeBufferReady) (gpointer data);

/* A request waiting for a buffer: kept by the request, cancelled with it. */
typedef struct
{
  gsize size;
  ServeBufferReady ready;
  gpointer data;
  GMainContext *context;
  GSource *source; /* woken, not yet dispatched */
  gboolean queued;
} ServeBufferWait;

/* An empty buffer of @size bytes, reused when one was given back, or NULL
 * when the budget is spent. A @spare buffer is one its request can do
 * without (it holds another): it is refused while any request waits (for
 * its first, or a download for a spare chunk it was refused), so that no
 * client is starved by those already served. */
ServeBuffer *serve_buffer_take (gsize size, gboolean spare);

/* Gives @buffer back to the budget and wakes the first waiting requests
 * that what is free can now serve. */
void serve_buffer_give (ServeBuffer *buffer);

/* A GBytes of @buffer's data that gives @buffer back when it is freed,
 * in whichever thread that is. */
GBytes *serve_buffer_free_to_bytes (ServeBuffer *buffer);

/* Calls @ready with @data in the caller's thread-default main context,
 * never from within this call, once enough was given back for a buffer
 * of @size: the request may try serve_buffer_take() again. Requests are
 * woken in the order they came. */
void serve_buffer_wait (ServeBufferWait *wait, gsize size,
                        ServeBufferReady ready, gpointer data);

/* @ready will not be called: the request ends. Called in the context
 * that waited; if @wait was woken, the requests behind it may be woken
 * in its stead. */
void serve_buffer_wait_cancel (ServeBufferWait *wait);

G_END_DECLS
