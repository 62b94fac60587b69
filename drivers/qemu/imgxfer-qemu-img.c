/* imgxfer-qemu-img.c: running qemu-img
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-img.h"

static GSubprocess *
spawn (const char *const *argv, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) full_argv = NULL;
  GSubprocess *process;

  g_strv_builder_add (builder, "qemu-img");
  g_strv_builder_addv (builder, (const char **)argv);
  full_argv = g_strv_builder_end (builder);

  process = g_subprocess_newv (
      (const char *const *)full_argv,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  if (process == NULL)
    g_prefix_error (error, "Cannot run qemu-img: ");
  return process;
}

/* Fails with @err, qemu-img's stderr, unless @process exited with 0. */
static gboolean
check_exit (GSubprocess *process, const char *const *argv, char *err,
            GError **error)
{
  g_auto (GStrv) lines = NULL;
  g_autofree char *message = NULL;

  if (g_subprocess_get_if_exited (process)
      && g_subprocess_get_exit_status (process) == 0)
    return TRUE;

  /* An error is one line: qemu-img often says why on a second. */
  lines = g_strsplit (g_strstrip (err), "\n", -1);
  message = g_strjoinv ("; ", lines);
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
               "qemu-img %s failed: %s", argv[0],
               message[0] ? message : "no message");
  return FALSE;
}

/* Reads @process's output and waits for it; its stderr becomes the error
 * if it failed. */
static gboolean
finish (GSubprocess *process, const char *const *argv, char **standard_output,
        GCancellable *cancellable, GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!g_subprocess_communicate_utf8 (process, NULL, cancellable, &out, &err,
                                      error)
      || !check_exit (process, argv, err, error))
    return FALSE;

  if (standard_output)
    *standard_output = g_steal_pointer (&out);
  return TRUE;
}

/* Once the caller has read @process's stdout to its end: reads its stderr
 * and waits for it. Not g_subprocess_communicate(), which would read the
 * stdout pipe once more behind the caller's stream (GLib 2.74 was seen
 * to hang there for good, once in thousands of runs under load). */
static gboolean
finish_after_stdout (GSubprocess *process, const char *const *argv,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (GOutputStream) err = g_memory_output_stream_new_resizable ();
  g_autofree char *text = NULL;

  if (g_output_stream_splice (err, g_subprocess_get_stderr_pipe (process),
                              G_OUTPUT_STREAM_SPLICE_NONE, cancellable, error)
          < 0
      || !g_output_stream_write_all (err, "", 1, NULL, cancellable, error)
      || !g_output_stream_close (err, cancellable, error)
      || !g_subprocess_wait (process, cancellable, error))
    return FALSE;
  text = g_utf8_make_valid (
      g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (err)), -1);
  return check_exit (process, argv, text, error);
}

gboolean
_imgxfer_qemu_img (const char *const *argv, char **standard_output,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (GSubprocess) process = spawn (argv, error);

  return process != NULL
         && finish (process, argv, standard_output, cancellable, error);
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
  g_autoptr (GSubprocess) process = spawn (argv, error);
  g_autoptr (GDataInputStream) lines = NULL;

  if (process == NULL)
    return FALSE;

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
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
        return finish_after_stdout (process, argv, cancellable, error);
      if (!line_func (line, user_data, &local_error))
        {
          if (local_error == NULL)
            {
              /* The caller has heard enough. */
              g_subprocess_force_exit (process);
              g_subprocess_wait (process, NULL, NULL);
              return TRUE;
            }
          g_propagate_error (error, g_steal_pointer (&local_error));
          break;
        }
    }

  g_subprocess_force_exit (process);
  g_subprocess_wait (process, NULL, NULL);
  return FALSE;
}
