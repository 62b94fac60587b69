/* serve-image.c: a flush covers its connection's writes on a backend
 * that serves another connection
 *
 * The image is the memory driver's, through the daemon's own ServeImage
 * (server/serve-image.c), with two backends sharing it: connection 1
 * wrote through backend B, which connection 3 then borrowed and holds
 * for a request of its own, while connection 1 flushes through backend
 * C. Connection 2 only made room for the second backend.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "serve-error.h"
#include "serve-image.h"
#include "serve-job.h"

#define URL "memory:?size=1M&max-connections=2"
#define SIZE (1024 * 1024)
/* Longer than a flush that does not wait takes, even on a loaded machine. */
#define STILL_WAITING_USEC (300 * 1000)
/* Bounds every wait of a test that the image does not bound itself. */
#define TEST_WAIT_USEC (10 * G_USEC_PER_SEC)

static const int conn1, conn2, conn3;

typedef struct
{
  ServeImage *image;
  ImgxferBackend *held;  /* B: connection 1's writes, connection 3's request */
  ImgxferBackend *flush; /* C: connection 1's flush */
} Scene;

static ImgxferBackend *
acquire (ServeImage *image, gconstpointer owner)
{
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend = serve_image_acquire (image, owner, NULL, &error);

  g_assert_no_error (error);
  return backend;
}

static void
scene_init (Scene *scene)
{
  g_autoptr (GError) error = NULL;
  guint8 data[4096];
  ImgxferBackend *other;

  memset (data, 0xa5, sizeof data);
  scene->image = serve_image_new (URL, NULL, NULL, TRUE, SIZE);
  serve_image_set_flush_wait (scene->image, TEST_WAIT_USEC / 1000);
  scene->held = acquire (scene->image, &conn1);
  other = acquire (scene->image, &conn2);
  g_assert_true (other != scene->held);
  g_assert_true (imgxfer_destination_pwrite (
      IMGXFER_DESTINATION (scene->held), data, sizeof data, 0, NULL, &error));
  g_assert_no_error (error);
  serve_image_wrote (scene->image, scene->held, &conn1);
  serve_image_release (scene->image, scene->held, NULL, FALSE);
  /* Both backends are open: connection 3 borrows connection 1's, idle. */
  g_assert_true (acquire (scene->image, &conn3) == scene->held);
  serve_image_release (scene->image, other, NULL, FALSE);
  scene->flush = acquire (scene->image, &conn1);
  g_assert_true (scene->flush == other);
}

static void
scene_clear (Scene *scene)
{
  if (scene->held)
    serve_image_release (scene->image, scene->held, NULL, FALSE);
  serve_image_release (scene->image, scene->flush, NULL, FALSE);
  serve_image_disown (scene->image, &conn1);
  serve_image_disown (scene->image, &conn3);
  g_clear_pointer (&scene->image, serve_image_free);
  serve_job_drain_in (NULL);
}

/* Connection 3 gives B back. */
static void
release_held (Scene *scene, const GError *error)
{
  serve_image_release (scene->image, g_steal_pointer (&scene->held), error,
                       FALSE);
}

typedef struct
{
  ServeImage *image;
  ImgxferBackend *backend;
  gconstpointer owner;
  gboolean writes_only; /* serve_image_flush_writes() */
  GCancellable *cancellable;
  gint done;
  gboolean ok;
  GError *error;
  GThread *thread;
} Flush;

static gpointer
flush_thread (gpointer data)
{
  Flush *flush = data;

  if (flush->writes_only)
    flush->ok
        = serve_image_flush_writes (flush->image, flush->backend, flush->owner,
                                    flush->cancellable, &flush->error);
  else
    flush->ok = serve_image_flush (flush->image, flush->backend, flush->owner,
                                   flush->cancellable, &flush->error);
  g_atomic_int_set (&flush->done, TRUE);
  return NULL;
}

static void
flush_start (Flush *flush, ServeImage *image, ImgxferBackend *backend,
             gconstpointer owner, gboolean writes_only)
{
  flush->image = image;
  flush->backend = backend;
  flush->owner = owner;
  flush->writes_only = writes_only;
  flush->cancellable = g_cancellable_new ();
  flush->thread = g_thread_new ("flush", flush_thread, flush);
}

/* Whether the flush ended within @usec. */
static gboolean
flush_ends_within (Flush *flush, gint64 usec)
{
  gint64 end = g_get_monotonic_time () + usec;

  while (!g_atomic_int_get (&flush->done) && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  return g_atomic_int_get (&flush->done);
}

/* Joins a flush that ended. */
static void
flush_join (Flush *flush)
{
  g_assert_true (flush_ends_within (flush, TEST_WAIT_USEC));
  g_thread_join (flush->thread);
  g_clear_object (&flush->cancellable);
}

static void
flush_clear (Flush *flush)
{
  g_clear_error (&flush->error);
}

/* A loss that B finds from now on is no longer connection 1's: B's
 * flush covered its writes, and connection 1 goes on. */
static void
assert_held_flushed (Scene *scene)
{
  g_autoptr (GError) loss = g_error_new_literal (
      IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED, "the server restarted");

  release_held (scene, loss);
  serve_image_release (scene->image, scene->flush, NULL, FALSE);
  scene->flush = acquire (scene->image, &conn1);
}

/* Connection 1's flush goes on until connection 3 gives B back, then
 * flushes B too. */
static void
check_waits_for_busy (gboolean writes_only)
{
  Scene scene = { 0 };
  Flush flush = { 0 };
  ImgxferBackend *held;

  scene_init (&scene);
  held = scene.held;
  flush_start (&flush, scene.image, scene.flush, &conn1, writes_only);
  g_assert_false (flush_ends_within (&flush, STILL_WAITING_USEC));
  release_held (&scene, NULL);
  flush_join (&flush);
  g_assert_no_error (flush.error);
  g_assert_true (flush.ok);
  /* The flush gave B back to connection 3, as it found it. */
  scene.held = acquire (scene.image, &conn3);
  g_assert_true (scene.held == held);
  assert_held_flushed (&scene);
  flush_clear (&flush);
  scene_clear (&scene);
}

static void
test_flush_waits_for_busy (void)
{
  check_waits_for_busy (FALSE);
}

/* A PUT or zero with flush covers its connection's writes so too. */
static void
test_flush_writes_waits_for_busy (void)
{
  check_waits_for_busy (TRUE);
}

/* Connection 3 flushes B itself, and keeps it: connection 1's writes on
 * it are covered, its flush ends. */
static void
test_flush_ends_when_other_flushes (void)
{
  g_autoptr (GError) error = NULL;
  Scene scene = { 0 };
  Flush flush = { 0 };

  scene_init (&scene);
  flush_start (&flush, scene.image, scene.flush, &conn1, FALSE);
  g_assert_false (flush_ends_within (&flush, STILL_WAITING_USEC));
  g_assert_true (
      serve_image_flush (scene.image, scene.held, &conn3, NULL, &error));
  g_assert_no_error (error);
  flush_join (&flush);
  g_assert_no_error (flush.error);
  g_assert_true (flush.ok);
  assert_held_flushed (&scene);
  flush_clear (&flush);
  scene_clear (&scene);
}

/* B stays busy: the flush fails, with a status the client may try again
 * after, once the image's wait is over. */
static void
test_flush_times_out (void)
{
  g_autoptr (GError) error = NULL;
  Scene scene = { 0 };
  gint64 start;

  scene_init (&scene);
  serve_image_set_flush_wait (scene.image, 200);
  start = g_get_monotonic_time ();
  g_assert_false (
      serve_image_flush (scene.image, scene.flush, &conn1, NULL, &error));
  g_assert_error (error, SERVE_ERROR, 503);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * 1000);
  scene_clear (&scene);
}

static void
cancel_flush (Scene *scene, Flush *flush)
{
  g_cancellable_cancel (flush->cancellable);
}

/* B is closed when given back then, its flush heard by no one. */
static void
remove_ticket (Scene *scene, Flush *flush)
{
  serve_image_close (scene->image);
}

/* The request ends (@end) while the flush waits: the flush ends at once,
 * failed. */
static void
check_flush_ended (void (*end) (Scene *scene, Flush *flush))
{
  Scene scene = { 0 };
  Flush flush = { 0 };

  scene_init (&scene);
  flush_start (&flush, scene.image, scene.flush, &conn1, FALSE);
  g_assert_false (flush_ends_within (&flush, STILL_WAITING_USEC));
  end (&scene, &flush);
  g_assert_true (flush_ends_within (&flush, G_USEC_PER_SEC));
  flush_join (&flush);
  g_assert_error (flush.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (flush.ok);
  flush_clear (&flush);
  scene_clear (&scene);
}

/* The daemon stops, or the request's ticket is removed from the
 * daemon's list. */
static void
test_flush_cancelled (void)
{
  check_flush_ended (cancel_flush);
}

static void
test_flush_ticket_removed (void)
{
  check_flush_ended (remove_ticket);
}

/* A request of a ticket removed meanwhile (replaced under its id, say)
 * whose writes were all on its own backend: its flush covers them, and
 * stands. */
static void
test_flush_own_after_removal (void)
{
  g_autoptr (GError) error = NULL;
  ServeImage *image = serve_image_new (URL, NULL, NULL, TRUE, SIZE);
  ImgxferBackend *own = acquire (image, &conn1);
  guint8 data[4096];

  memset (data, 0x5a, sizeof data);
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (own), data,
                                             sizeof data, 0, NULL, &error));
  serve_image_wrote (image, own, &conn1);
  serve_image_close (image);
  g_assert_true (serve_image_flush (image, own, &conn1, NULL, &error));
  g_assert_no_error (error);
  serve_image_release (image, own, NULL, FALSE);
  serve_image_disown (image, &conn1);
  serve_image_free (image);
  serve_job_drain_in (NULL);
}

/* B finds its server restarted during connection 3's request: connection
 * 1's writes on it are gone, and its flush fails so. */
static void
test_flush_lost_while_waiting (void)
{
  g_autoptr (GError) loss = g_error_new_literal (
      IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED, "the server restarted");
  Scene scene = { 0 };
  Flush flush = { 0 };

  scene_init (&scene);
  flush_start (&flush, scene.image, scene.flush, &conn1, FALSE);
  g_assert_false (flush_ends_within (&flush, STILL_WAITING_USEC));
  release_held (&scene, loss);
  flush_join (&flush);
  g_assert_error (flush.error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED);
  g_assert_false (flush.ok);
  flush_clear (&flush);
  scene_clear (&scene);
}

/* Connection 3 wrote through C too, and flushes through B while
 * connection 1 flushes through C: each waits for the other's backend
 * only until the other's flush of its own covered it. */
static void
test_flushes_cross (void)
{
  g_autoptr (GError) error = NULL;
  guint8 data[4096] = { 1 };
  Scene scene = { 0 };
  Flush first = { 0 };
  Flush second = { 0 };

  scene_init (&scene);
  serve_image_release (scene.image, scene.flush, NULL, FALSE);
  g_assert_true (acquire (scene.image, &conn3) == scene.flush);
  g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (scene.flush),
                                             data, sizeof data, 4096, NULL,
                                             &error));
  g_assert_no_error (error);
  serve_image_wrote (scene.image, scene.flush, &conn3);
  serve_image_release (scene.image, scene.flush, NULL, FALSE);
  g_assert_true (acquire (scene.image, &conn1) == scene.flush);

  flush_start (&first, scene.image, scene.flush, &conn1, FALSE);
  flush_start (&second, scene.image, scene.held, &conn3, FALSE);
  flush_join (&first);
  flush_join (&second);
  g_assert_no_error (first.error);
  g_assert_no_error (second.error);
  flush_clear (&first);
  flush_clear (&second);
  scene_clear (&scene);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/serve-image/flush/waits-for-busy",
                   test_flush_waits_for_busy);
  g_test_add_func ("/serve-image/flush-writes/waits-for-busy",
                   test_flush_writes_waits_for_busy);
  g_test_add_func ("/serve-image/flush/ends-when-other-flushes",
                   test_flush_ends_when_other_flushes);
  g_test_add_func ("/serve-image/flush/times-out", test_flush_times_out);
  g_test_add_func ("/serve-image/flush/cancelled", test_flush_cancelled);
  g_test_add_func ("/serve-image/flush/ticket-removed",
                   test_flush_ticket_removed);
  g_test_add_func ("/serve-image/flush/own-after-removal",
                   test_flush_own_after_removal);
  g_test_add_func ("/serve-image/flush/lost-while-waiting",
                   test_flush_lost_while_waiting);
  g_test_add_func ("/serve-image/flush/crossed", test_flushes_cross);
  status = g_test_run ();
  serve_job_shutdown ();
  return status;
}
