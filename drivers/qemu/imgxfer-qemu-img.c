/* imgxfer-qemu-img.c: running qemu-img
 *
 * qemu-img's output is read from its stdout pipe in the calling thread;
 * its messages go to a file in memory (its stderr), read once it has
 * failed. With one pipe only, nothing needs reading two at once, and no
 * other thread takes part.
 *
 * Not g_subprocess_communicate(), which under load wrote into freed
 * memory (GLib 2.74): given a cancellable, it attaches a source to the
 * private main context of the call, and destroys it only after its task
 * has dropped its own reference to that context. The pipes' closes run
 * in GLib's thread pool, whose tasks hold the other references; when a
 * pool thread drops the last one meanwhile, the context is freed under
 * the source, and locking it again writes into a freed block: the call
 * hung for good, or the pool thread aborted on exit ("tcache_thread_
 * shutdown(): unaligned tcache chunk detected"). A program that only runs
 * `true` that way from one thread crashed so within minutes under load.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-img.h"
#include "imgxfer-qemu-log.h"

typedef struct
{
  GSubprocess *process;
  int log_fd; /* its stderr */
} QemuImg;

static void
qemu_img_free (QemuImg *img)
{
  g_clear_object (&img->process);
  if (img->log_fd >= 0)
    close (img->log_fd);
  g_free (img);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QemuImg, qemu_img_free)

static QemuImg *
spawn (const char *const *argv, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (QemuImg) img = g_new0 (QemuImg, 1);
  g_auto (GStrv) full_argv = NULL;
  int child_fd;

  img->log_fd = _imgxfer_qemu_log_new ("qemu-img-stderr");
  child_fd = img->log_fd < 0 ? -1 : fcntl (img->log_fd, F_DUPFD_CLOEXEC, 3);
  if (child_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot run qemu-img: no file for its messages: %s",
                   g_strerror (saved_errno));
      return NULL;
    }
  g_subprocess_launcher_take_stderr_fd (launcher, child_fd);

  g_strv_builder_add (builder, "qemu-img");
  g_strv_builder_addv (builder, (const char **)argv);
  full_argv = g_strv_builder_end (builder);
  img->process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *)full_argv, error);
  if (img->process == NULL)
    {
      g_prefix_error (error, "Cannot run qemu-img: ");
      return NULL;
    }
  return g_steal_pointer (&img);
}

/* For a caller that has heard enough, or gave up. */
static void
stop (QemuImg *img)
{
  g_subprocess_force_exit (img->process);
  g_subprocess_wait (img->process, NULL, NULL);
}

/* What qemu-img said on its stderr, on one line: an error is one line,
 * and qemu-img often says why on a second. */
static char *
read_messages (QemuImg *img)
{
  g_autofree char *text = _imgxfer_qemu_log_read (img->log_fd);
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (valid), "\n", -1);

  return g_strjoinv ("; ", lines);
}

/* Once its output was read: waits for qemu-img, and fails with its
 * messages unless it exited with 0. */
static gboolean
finish (QemuImg *img, const char *const *argv, GCancellable *cancellable,
        GError **error)
{
  g_autofree char *message = NULL;

  if (!g_subprocess_wait (img->process, cancellable, error))
    {
      stop (img);
      return FALSE;
    }
  if (g_subprocess_get_if_exited (img->process)
      && g_subprocess_get_exit_status (img->process) == 0)
    return TRUE;

  message = read_messages (img);
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
               "qemu-img %s failed: %s", argv[0],
               message[0] ? message : "no message");
  return FALSE;
}

/* All of qemu-img's output, as text. */
static char *
read_output (QemuImg *img, GCancellable *cancellable, GError **error)
{
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autofree char *text = NULL;

  if (g_output_stream_splice (out, g_subprocess_get_stdout_pipe (img->process),
                              G_OUTPUT_STREAM_SPLICE_NONE, cancellable, error)
          < 0
      || !g_output_stream_write_all (out, "", 1, NULL, cancellable, error)
      || !g_output_stream_close (out, cancellable, error))
    {
      g_prefix_error (error, "Cannot read qemu-img's output: ");
      return NULL;
    }
  text = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "qemu-img printed something that is not UTF-8");
      return NULL;
    }
  return g_steal_pointer (&text);
}

gboolean
_imgxfer_qemu_img (const char *const *argv, char **standard_output,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (QemuImg) img = spawn (argv, error);
  g_autofree char *out = NULL;

  if (img == NULL)
    return FALSE;
  out = read_output (img, cancellable, error);
  if (out == NULL)
    {
      stop (img);
      return FALSE;
    }
  if (!finish (img, argv, cancellable, error))
    return FALSE;

  if (standard_output)
    *standard_output = g_steal_pointer (&out);
  return TRUE;
}

JsonNode *
_imgxfer_qemu_img_json (const char *const *argv, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *out = NULL;
  JsonNode *root;

  if (!_imgxfer_qemu_img (argv, &out, cancellable, error)
      || !json_parser_load_from_data (parser, out, -1, error))
    return NULL;
  /* No output at all: a null node, which the caller refuses as it would
   * any other wrong type. */
  root = json_parser_steal_root (parser);
  return root ? root : json_node_new (JSON_NODE_NULL);
}

gboolean
_imgxfer_qemu_img_lines (const char *const *argv,
                         ImgxferQemuImgLineFunc line_func, gpointer user_data,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr (QemuImg) img = spawn (argv, error);
  g_autoptr (GDataInputStream) lines = NULL;

  if (img == NULL)
    return FALSE;

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (img->process));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines),
                                               FALSE);
  for (;;)
    {
      g_autoptr (GError) local_error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (
          lines, NULL, cancellable, &local_error);

      if (local_error != NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot read qemu-img's output: ");
          break;
        }
      if (line == NULL)
        /* The end of the output. */
        return finish (img, argv, cancellable, error);
      if (!line_func (line, user_data, &local_error))
        {
          stop (img);
          /* Without an error, the caller has heard enough. */
          if (local_error == NULL)
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }

  stop (img);
  return FALSE;
}
