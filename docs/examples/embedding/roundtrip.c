/* roundtrip.c: upload an image to an imageio server, with progress, and
 * download it back, as an application embedding libimgxfer does
 *
 *   roundtrip IMAGE UPLOAD_URL DOWNLOAD_URL COPY CA_FILE
 *
 * Build: cc roundtrip.c $(pkg-config --cflags --libs imgxfer-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <imgxfer/imgxfer.h>

typedef struct
{
  const char *what;
  guint64 done;
} Progress;

/* Called once per completed request, on this thread: the lengths add up
 * to the image's size. */
static void
show_progress (guint64 length, guint64 total, gpointer user_data)
{
  Progress *progress = user_data;

  progress->done += length;
  g_printerr ("\r%s: %3d%%", progress->what,
              (int)(total ? progress->done * 100 / total : 100));
  if (progress->done == total)
    g_printerr ("\n");
}

static char *
checksum (const char *url, const char *ca_file, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) image = NULL;

  imgxfer_open_options_set_ca_file (options, ca_file);
  image = imgxfer_open (url, options, NULL, error);
  if (image == NULL)
    return NULL;
  return imgxfer_checksum_compute (image, NULL, 0, 0, NULL, error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferTransferOptions) options = NULL;
  g_autofree char *sent = NULL;
  g_autofree char *served = NULL;
  g_autofree char *received = NULL;
  Progress up = { "upload", 0 }, down = { "download", 0 };

  if (argc != 6)
    {
      g_printerr ("usage: roundtrip IMAGE UPLOAD_URL DOWNLOAD_URL COPY "
                  "CA_FILE\n");
      return 2;
    }

  options = imgxfer_transfer_options_new ();
  imgxfer_transfer_options_set_ca_file (options, argv[5]);
  imgxfer_transfer_options_set_progress_func (options, show_progress, &up,
                                              NULL);
  if (!imgxfer_upload (argv[1], argv[2], options, NULL, &error))
    goto failed;

  imgxfer_transfer_options_set_progress_func (options, show_progress, &down,
                                              NULL);
  if (!imgxfer_download (argv[3], argv[4], options, NULL, &error))
    goto failed;

  /* The server computes the checksum of its image itself. */
  sent = checksum (argv[1], NULL, &error);
  if (sent)
    served = checksum (argv[3], argv[5], &error);
  if (served)
    received = checksum (argv[4], NULL, &error);
  if (received == NULL)
    goto failed;
  if (g_strcmp0 (sent, served) != 0 || g_strcmp0 (sent, received) != 0)
    {
      g_printerr ("roundtrip: checksums differ: %s %s %s\n", sent, served,
                  received);
      return 1;
    }
  g_print ("%s\n", sent);
  return 0;

failed:
  g_printerr ("roundtrip: %s\n", error->message);
  return 1;
}
