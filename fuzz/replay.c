/* replay.c: runs a fuzz target over files, without libFuzzer
 *
 * Each argument is a file or a folder of files; every file is given to
 * the target once. A crash is a failure of the test that runs this, so
 * the seeds and every input that once crashed stay checked in the
 * normal build.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>

#include "fuzz.h"

static gboolean
replay_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      g_printerr ("replay: %s\n", error->message);
      return FALSE;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *)data, length);
  g_print ("ok %s (%" G_GSIZE_FORMAT " bytes)\n", path, length);
  return TRUE;
}

static gboolean
replay_folder (const char *path, guint *count)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
  const char *name;

  if (dir == NULL)
    {
      g_printerr ("replay: %s\n", error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      if (!replay_file (file))
        return FALSE;
      (*count)++;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint count = 0;

  for (int i = 1; i < argc; i++)
    {
      gboolean ok;

      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        ok = replay_folder (argv[i], &count);
      else
        ok = replay_file (argv[i]) && ++count;
      if (!ok)
        return 1;
    }
  /* An empty corpus would test nothing. */
  if (count == 0)
    {
      g_printerr ("replay: no input files\n");
      return 1;
    }
  return 0;
}
