/* serve-buffer.c: the large buffers that request bodies gather in
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-buffer.h"

/* Enough for a few connections writing at once (each holds two), few
 * enough that an idle daemon keeps little. */
#define MAX_FREE 8

static GMutex lock;
static GByteArray *free_buffers[MAX_FREE];
static guint n_free;

GByteArray *
serve_buffer_take (void)
{
  GByteArray *buffer = NULL;

  g_mutex_lock (&lock);
  if (n_free > 0)
    buffer = free_buffers[--n_free];
  g_mutex_unlock (&lock);
  /* g_byte_array_sized_new() rounds up to a power of two: the size is one. */
  return buffer ? buffer : g_byte_array_sized_new (SERVE_BUFFER_SIZE);
}

void
serve_buffer_give (GByteArray *buffer)
{
  if (buffer == NULL)
    return;
  g_byte_array_set_size (buffer, 0);
  g_mutex_lock (&lock);
  if (n_free < MAX_FREE)
    {
      free_buffers[n_free++] = buffer;
      buffer = NULL;
    }
  g_mutex_unlock (&lock);
  if (buffer)
    g_byte_array_unref (buffer);
}
