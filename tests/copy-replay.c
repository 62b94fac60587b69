/* copy-replay.c: the copy engine writes again what a destination may
 * have lost with a replaced connection
 *
 * The destination here is a driver of the test's own, "lossy:", that
 * plays a server which restarts: at an injected request every write and
 * zero that no flush covered yet is undone, on every connection, and each
 * connection's next request fails with IMGXFER_ERROR_RECONNECTED, not
 * done, as the imageio and nbd drivers report a connection they replaced.
 * The source is a memory: image of data, zeroes and holes. Whatever the
 * restarts, a copy either ends with the destination equal to its source,
 * everything flushed, or fails in one line without reporting success.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "imgxfer-copy-private.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define IMAGE_SIZE (4 * MiB)
#define REQUEST (64 * KiB)

/* A write or zero not flushed yet: what was there before it. */
typedef struct
{
  guint connection;
  guint64 offset;
  guint64 length;
  guint8 *before;
} Undo;

/* The server behind every lossy: connection of a test. */
static struct
{
  GMutex lock;
  guint8 image[IMAGE_SIZE];
  GArray *undo;     /* Undo, oldest first */
  guint generation; /* restarts so far */
  guint next_connection;
  guint requests; /* writes, zeroes and flushes */
  /* Requests (by number, from 1) at which the server restarts. */
  guint restart_at[8];
  guint restarts;
  guint64 undone;    /* bytes */
  guint reconnected; /* requests failed so */
} server;

static void
server_reset (void)
{
  if (server.undo)
    {
      for (guint i = 0; i < server.undo->len; i++)
        g_free (g_array_index (server.undo, Undo, i).before);
      g_array_unref (server.undo);
    }
  memset (&server, 0, sizeof server);
  g_mutex_init (&server.lock);
  server.undo = g_array_new (FALSE, FALSE, sizeof (Undo));
}

/* Every write not flushed is lost, newest first. */
static void
server_restart (void)
{
  for (guint i = server.undo->len; i-- > 0;)
    {
      Undo *undo = &g_array_index (server.undo, Undo, i);

      memcpy (server.image + undo->offset, undo->before, undo->length);
      server.undone += undo->length;
      g_free (undo->before);
    }
  g_array_set_size (server.undo, 0);
  server.generation++;
  server.restarts++;
}

#define TEST_TYPE_LOSSY_BACKEND (test_lossy_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestLossyBackend, test_lossy_backend, TEST, LOSSY_BACKEND,
                      ImgxferBackend)

struct _TestLossyBackend
{
  ImgxferBackend parent_instance;
  guint connection;
  guint generation; /* of the server it last talked to */
};

static void lossy_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestLossyBackend, test_lossy_backend,
                               IMGXFER_TYPE_BACKEND,
                               G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                                                      lossy_destination_init))

/* Starts a request, under the server's lock: fails it when the server
 * restarted since this connection's last request, or restarts now. */
static gboolean
lossy_begin (TestLossyBackend *self, GError **error)
{
  server.requests++;
  for (guint i = 0; i < G_N_ELEMENTS (server.restart_at); i++)
    if (server.restart_at[i] == server.requests)
      server_restart ();
  if (self->generation == server.generation)
    return TRUE;
  self->generation = server.generation;
  server.reconnected++;
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_RECONNECTED,
               "lossy: the connection was replaced");
  return FALSE;
}

/* A write of @data, or of zeroes when NULL, that a restart undoes
 * unless a flush on this connection comes first. */
static gboolean
lossy_store (TestLossyBackend *self, const void *data, guint64 offset,
             guint64 length, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&server.lock);
  Undo undo = { self->connection, offset, length, NULL };

  if (!lossy_begin (self, error))
    return FALSE;
  undo.before = g_memdup2 (server.image + offset, length);
  g_array_append_val (server.undo, undo);
  if (data)
    memcpy (server.image + offset, data, length);
  else
    memset (server.image + offset, 0, length);
  return TRUE;
}

static gboolean
lossy_pwrite (ImgxferDestination *destination, const void *buffer, gsize length,
              guint64 offset, GCancellable *cancellable, GError **error)
{
  return lossy_store (TEST_LOSSY_BACKEND (destination), buffer, offset, length,
                      error);
}

static gboolean
lossy_zero (ImgxferDestination *destination, guint64 offset, guint64 length,
            ImgxferZeroFlags flags, GCancellable *cancellable, GError **error)
{
  return lossy_store (TEST_LOSSY_BACKEND (destination), NULL, offset, length,
                      error);
}

/* Makes this connection's writes durable: they can no longer be undone. */
static gboolean
lossy_flush (ImgxferDestination *destination, GCancellable *cancellable,
             GError **error)
{
  TestLossyBackend *self = TEST_LOSSY_BACKEND (destination);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&server.lock);

  if (!lossy_begin (self, error))
    return FALSE;
  for (guint i = server.undo->len; i-- > 0;)
    {
      Undo *undo = &g_array_index (server.undo, Undo, i);

      if (undo->connection != self->connection)
        continue;
      g_free (undo->before);
      g_array_remove_index (server.undo, i);
    }
  return TRUE;
}

static void
lossy_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = lossy_pwrite;
  iface->zero = lossy_zero;
  iface->flush = lossy_flush;
}

static gboolean
lossy_open (ImgxferBackend *backend, GCancellable *cancellable, GError **error)
{
  TestLossyBackend *self = TEST_LOSSY_BACKEND (backend);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&server.lock);

  self->connection = server.next_connection++;
  self->generation = server.generation;
  imgxfer_backend_set_size (backend, IMAGE_SIZE);
  imgxfer_backend_set_caps (
      backend, IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO
                   | IMGXFER_BACKEND_CAN_FLUSH | IMGXFER_BACKEND_MAY_RECONNECT);
  imgxfer_backend_set_block_sizes (backend, 1, REQUEST, REQUEST);
  imgxfer_backend_set_max_connections (backend, 4);
  return TRUE;
}

static ImgxferBackend *
lossy_new (ImgxferOpenOptions *options, GError **error)
{
  return g_initable_new (TEST_TYPE_LOSSY_BACKEND, NULL, error, "url",
                         "lossy:", "options", options, NULL);
}

static ImgxferBackend *
lossy_clone (ImgxferBackend *backend, GCancellable *cancellable, GError **error)
{
  return lossy_new (imgxfer_backend_get_options (backend), error);
}

static void
test_lossy_backend_class_init (TestLossyBackendClass *klass)
{
  IMGXFER_BACKEND_CLASS (klass)->name = "lossy";
  IMGXFER_BACKEND_CLASS (klass)->open = lossy_open;
  IMGXFER_BACKEND_CLASS (klass)->clone = lossy_clone;
}

static void
test_lossy_backend_init (TestLossyBackend *self)
{
}

/* The lines the engine logs when it writes again. */
static GPtrArray *logged;

static GLogWriterOutput
keep_messages (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
               gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (logged && g_str_equal (fields[i].key, "MESSAGE"))
      g_ptr_array_add (logged, g_strdup (fields[i].value));
  return g_log_writer_default (level, fields, n_fields, data);
}

static guint
count_logged (const char *part)
{
  guint n = 0;

  for (guint i = 0; i < logged->len; i++)
    n += strstr (logged->pdata[i], part) != NULL;
  return n;
}

/* A source of 4 MiB: 64 KiB pieces of data that differ from piece to
 * piece, every fourth piece zeroes, the last MiB a hole. */
static ImgxferBackend *
make_source (void)
{
  ImgxferBackend *src = test_open ("memory:?size=4m", TRUE);
  g_autofree guint8 *piece = g_malloc (REQUEST);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 3 * MiB / REQUEST; i++)
    {
      if (i % 4 == 3)
        continue;
      memset (piece, 'a' + i % 26, REQUEST);
      piece[i % REQUEST] = i;
      g_assert_true (
          imgxfer_destination_pwrite (IMGXFER_DESTINATION (src), piece, REQUEST,
                                      (guint64)i * REQUEST, NULL, &error));
      g_assert_no_error (error);
    }
  return src;
}

static void
assert_same_as_source (ImgxferBackend *src)
{
  g_autofree guint8 *data = g_malloc (IMAGE_SIZE);
  g_autoptr (GError) error = NULL;

  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (src), data, IMAGE_SIZE,
                                       0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (server.image, IMAGE_SIZE, data, IMAGE_SIZE);
}

typedef struct
{
  guint retries;
  guint connections;
  guint restart_at[3];    /* requests at which the server restarts */
  gboolean every_request; /* ... and at each one after the first */
  gboolean succeeds;
  gboolean at_flush; /* the restart fails the end's flush */
} Case;

/* Copies into lossy: as @c says; the destination starts full of 0xee, so
 * that a zero range lost shows. */
static void
test_replay (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  server_reset ();
  memset (server.image, 0xee, IMAGE_SIZE);
  memcpy (server.restart_at, c->restart_at, sizeof c->restart_at);
  if (c->every_request)
    for (guint i = 1; i < G_N_ELEMENTS (server.restart_at); i++)
      server.restart_at[i] = c->restart_at[0] + i;
  logged = g_ptr_array_new_with_free_func (g_free);

  src = make_source ();
  imgxfer_open_options_set_retries (options, c->retries);
  dst = lossy_new (options, &error);
  g_assert_no_error (error);
  copy = imgxfer_copy_new (src, dst);
  imgxfer_copy_set_connections (copy, c->connections);
  _imgxfer_copy_set_unit_size (copy, MiB);
  ok = imgxfer_copy_run (copy, NULL, &error);

  g_assert_cmpuint (server.restarts, >, 0);
  if (c->succeeds)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      /* Something was lost, and written again. */
      g_assert_cmpuint (server.undone, >, 0);
      g_assert_cmpuint (count_logged ("retrying the "), ==, server.reconnected);
      /* Nothing was flushed before the end, which wrote everything. */
      if (c->at_flush)
        g_assert_cmpuint (count_logged ("retrying the 4194304 bytes "), ==, 1);
      /* The end's flushes covered everything. */
      g_assert_cmpuint (server.undo->len, ==, 0);
      assert_same_as_source (src);
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      g_test_message ("%s", error->message);
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_str_has_prefix (error->message,
                                       "lossy: the connection was replaced"));
      g_assert_nonnull (
          strstr (error->message,
                  c->retries == 0 ? "no retries" : "as many as the retries"));
      g_assert_cmpuint (imgxfer_copy_get_done (copy), <,
                        imgxfer_copy_get_total (copy));
    }
  g_clear_pointer (&logged, g_ptr_array_unref);
}

/* Part-way through the writes, on one connection and on four. */
static const Case mid_copy = { 3, 1, { 20 }, FALSE, TRUE };
static const Case mid_copy_connections = { 3, 4, { 30 }, FALSE, TRUE };
/* At the end's flush, the 65th request of a copy on one connection: the
 * flush does not count, and every write is lost. */
static const Case at_flush = { 3, 1, { 65 }, FALSE, TRUE, TRUE };
/* Again while writing again. */
static const Case during_replay = { 3, 1, { 20, 23 }, FALSE, TRUE };
/* Without retries, a copy cannot recover. */
static const Case no_retries = { 0, 1, { 20 }, FALSE, FALSE };
/* A server that restarts at every request. */
static const Case every_request = { 2, 1, { 20 }, TRUE, FALSE };

/* What a replay may cost is bounded: a worker whose list of ranges
 * written since its last flush reaches 16384 flushes and forgets them.
 * 80 MiB of 4 KiB of data then 4 KiB of zeroes make 20480 ranges that
 * do not merge: one flush on the way, one at the end. A destination that
 * never reconnects has no list, and one flush, at the end. */
typedef struct
{
  const char *url;
  guint flushes;
} FlushBound;

static const FlushBound may_reconnect
    = { "memory:?size=80m&may-reconnect=yes", 2 };
static const FlushBound never_reconnects = { "memory:?size=80m", 1 };

static void
test_flush_bound (gconstpointer data)
{
  const FlushBound *bound = data;
  g_autoptr (ImgxferBackend) src = test_open ("memory:?size=80m", TRUE);
  g_autoptr (ImgxferBackend) dst = test_open (bound->url, TRUE);
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GError) error = NULL;
  guint8 block[4 * KiB];

  memset (block, 'r', sizeof block);
  for (guint64 offset = 0; offset < 80 * MiB; offset += 2 * sizeof block)
    {
      g_assert_true (imgxfer_destination_pwrite (IMGXFER_DESTINATION (src),
                                                 block, sizeof block, offset,
                                                 NULL, &error));
      g_assert_no_error (error);
    }
  copy = imgxfer_copy_new (src, dst);
  imgxfer_copy_set_connections (copy, 1);
  g_assert_true (imgxfer_copy_run (copy, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (imgxfer_memory_backend_get_count (
                        IMGXFER_MEMORY_BACKEND (dst), IMGXFER_MEMORY_OP_WRITE),
                    ==, 10240);
  g_assert_cmpuint (imgxfer_memory_backend_get_count (
                        IMGXFER_MEMORY_BACKEND (dst), IMGXFER_MEMORY_OP_ZERO),
                    ==, 10240);
  g_assert_cmpuint (imgxfer_memory_backend_get_count (
                        IMGXFER_MEMORY_BACKEND (dst), IMGXFER_MEMORY_OP_FLUSH),
                    ==, bound->flushes);
}

/* The bound in bytes, with data that does not fit in a test's memory: a
 * "counting:" driver of the test's own is a source of data made up as it
 * is read, and a destination that keeps nothing but counts the bytes
 * written between two flushes. */
#define REPLAY_MAX_BYTES (G_GUINT64_CONSTANT (1) << 30)
#define COUNTED_SIZE (2 * REPLAY_MAX_BYTES + 256 * MiB)
#define COUNTED_REQUEST (8 * MiB)

static struct
{
  GMutex lock;
  guint64 since_flush; /* bytes written since the last flush */
  guint64 most;        /* the most bytes written between two flushes */
  guint flushes;
} counted;

#define TEST_TYPE_COUNTING_BACKEND (test_counting_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestCountingBackend, test_counting_backend, TEST,
                      COUNTING_BACKEND, ImgxferBackend)

struct _TestCountingBackend
{
  ImgxferBackend parent_instance;
};

static void counting_source_init (ImgxferSourceInterface *iface);
static void counting_destination_init (ImgxferDestinationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (
    TestCountingBackend, test_counting_backend, IMGXFER_TYPE_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE, counting_source_init)
        G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION,
                               counting_destination_init))

/* Bytes that are not zero, so that none becomes a zero request. */
static gboolean
counting_pread (ImgxferSource *source, void *buffer, gsize length,
                guint64 offset, GCancellable *cancellable, GError **error)
{
  memset (buffer, 'c', length);
  return TRUE;
}

static void
counting_source_init (ImgxferSourceInterface *iface)
{
  iface->pread = counting_pread;
}

static gboolean
counting_pwrite (ImgxferDestination *destination, const void *buffer,
                 gsize length, guint64 offset, GCancellable *cancellable,
                 GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&counted.lock);

  counted.since_flush += length;
  counted.most = MAX (counted.most, counted.since_flush);
  return TRUE;
}

static gboolean
counting_flush (ImgxferDestination *destination, GCancellable *cancellable,
                GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&counted.lock);

  counted.since_flush = 0;
  counted.flushes++;
  return TRUE;
}

static void
counting_destination_init (ImgxferDestinationInterface *iface)
{
  iface->pwrite = counting_pwrite;
  iface->flush = counting_flush;
}

static gboolean
counting_open (ImgxferBackend *backend, GCancellable *cancellable,
               GError **error)
{
  imgxfer_backend_set_size (backend, COUNTED_SIZE);
  imgxfer_backend_set_caps (backend, IMGXFER_BACKEND_CAN_WRITE
                                         | IMGXFER_BACKEND_CAN_FLUSH
                                         | IMGXFER_BACKEND_MAY_RECONNECT);
  imgxfer_backend_set_block_sizes (backend, 1, COUNTED_REQUEST,
                                   COUNTED_REQUEST);
  return TRUE;
}

static ImgxferBackend *
counting_new (GError **error)
{
  return g_initable_new (TEST_TYPE_COUNTING_BACKEND, NULL, error, "url",
                         "counting:", NULL);
}

static ImgxferBackend *
counting_clone (ImgxferBackend *backend, GCancellable *cancellable,
                GError **error)
{
  return counting_new (error);
}

static void
test_counting_backend_class_init (TestCountingBackendClass *klass)
{
  IMGXFER_BACKEND_CLASS (klass)->name = "counting";
  IMGXFER_BACKEND_CLASS (klass)->open = counting_open;
  IMGXFER_BACKEND_CLASS (klass)->clone = counting_clone;
}

static void
test_counting_backend_init (TestCountingBackend *self)
{
}

/* 2.25 GiB of data in one range that grows: a flush after each GiB, and
 * one at the end; never more than a GiB written between two. */
static void
test_flush_bound_bytes (void)
{
  g_autoptr (ImgxferBackend) src = NULL;
  g_autoptr (ImgxferBackend) dst = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (GError) error = NULL;

  memset (&counted, 0, sizeof counted);
  g_mutex_init (&counted.lock);
  src = counting_new (&error);
  g_assert_no_error (error);
  dst = counting_new (&error);
  g_assert_no_error (error);
  copy = imgxfer_copy_new (src, dst);
  imgxfer_copy_set_connections (copy, 1);
  g_assert_true (imgxfer_copy_run (copy, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (imgxfer_copy_get_done (copy), ==, COUNTED_SIZE);
  g_assert_cmpuint (counted.flushes, ==, 3);
  g_assert_cmpuint (counted.most, ==, REPLAY_MAX_BYTES);
  g_assert_cmpuint (counted.since_flush, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (keep_messages, NULL, NULL);

  g_test_add_data_func ("/copy/replay/restart-mid-copy", &mid_copy,
                        test_replay);
  g_test_add_data_func ("/copy/replay/restart-mid-copy-connections",
                        &mid_copy_connections, test_replay);
  g_test_add_data_func ("/copy/replay/restart-at-flush", &at_flush,
                        test_replay);
  g_test_add_data_func ("/copy/replay/restart-during-replay", &during_replay,
                        test_replay);
  g_test_add_data_func ("/copy/replay/no-retries", &no_retries, test_replay);
  g_test_add_data_func ("/copy/replay/restarts-every-request", &every_request,
                        test_replay);

  g_test_add_data_func ("/copy/replay/flush-bound", &may_reconnect,
                        test_flush_bound);
  g_test_add_data_func ("/copy/replay/flush-end-only", &never_reconnects,
                        test_flush_bound);
  g_test_add_func ("/copy/replay/flush-bound-bytes", test_flush_bound_bytes);

  return g_test_run ();
}
