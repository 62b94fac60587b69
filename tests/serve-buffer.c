/* serve-buffer.c: the daemon's budget of body buffers and the requests
 * that wait for it
 *
 * The buffers are the daemon's own (server/serve-buffer.c); the waits
 * are dispatched by the test's main context, as the daemon's are by its
 * server thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-buffer.h"

#define SIZE (2 * 1024 * 1024)
#define BUDGET_BUFFERS (SERVE_BUFFER_BUDGET / SIZE)

static void
count_ready (gpointer data)
{
  guint *woken = data;

  (*woken)++;
}

static void
dispatch_all (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Two requests wait with the budget spent; one buffer comes back, enough
 * for the first only, whose request then ends before it took it: the
 * second is woken in its stead, with no other buffer to come back. */
static void
test_cancel_woken (void)
{
  ServeBuffer *held[BUDGET_BUFFERS];
  ServeBufferWait first = { 0 };
  ServeBufferWait second = { 0 };
  guint first_woken = 0;
  guint second_woken = 0;
  ServeBuffer *buffer;

  for (guint i = 0; i < BUDGET_BUFFERS; i++)
    {
      held[i] = serve_buffer_take (SIZE, FALSE);
      g_assert_nonnull (held[i]);
    }
  g_assert_null (serve_buffer_take (SIZE, FALSE));

  serve_buffer_wait (&first, SIZE, count_ready, &first_woken);
  serve_buffer_wait (&second, SIZE, count_ready, &second_woken);
  dispatch_all ();
  g_assert_cmpuint (first_woken + second_woken, ==, 0);

  serve_buffer_give (held[0]);
  g_assert_true (second.queued);
  serve_buffer_wait_cancel (&first);
  dispatch_all ();
  g_assert_cmpuint (first_woken, ==, 0);
  g_assert_cmpuint (second_woken, ==, 1);

  buffer = serve_buffer_take (SIZE, FALSE);
  g_assert_nonnull (buffer);
  serve_buffer_give (buffer);
  for (guint i = 1; i < BUDGET_BUFFERS; i++)
    serve_buffer_give (held[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/serve-buffer/wait/cancel-woken", test_cancel_woken);

  return g_test_run ();
}
