/* serve-tls.c: the remote service's certificate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "serve-tls.h"

static char *
read_file (const char *path, GError **error)
{
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, error);
  return contents;
}

GTlsCertificate *
serve_tls_load (const char *cert_file, const char *key_file,
                const char *ca_file, GError **error)
{
  g_autofree char *cert = read_file (cert_file, error);
  g_autofree char *key = cert ? read_file (key_file, error) : NULL;
  g_autofree char *ca = NULL;
  g_autofree char *pem = NULL;
  g_autoptr (GError) local = NULL;
  GTlsCertificate *certificate;

  if (key == NULL)
    return NULL;
  if (ca_file && (ca = read_file (ca_file, error)) == NULL)
    return NULL;
  /* GLib takes the first certificate of the PEM data as the server's and
   * the others as its issuers. */
  pem = g_strconcat (cert, "\n", ca ? ca : "", "\n", key, NULL);
  certificate = g_tls_certificate_new_from_pem (pem, -1, &local);
  if (certificate == NULL)
    g_set_error (error, local->domain, local->code, "%s, %s: %s", cert_file,
                 key_file, local->message);
  return certificate;
}

gboolean
serve_tls_ensure_self_signed (const char *cert_file, const char *key_file,
                              GError **error)
{
  g_autofree char *subject = g_strdup_printf ("/CN=%s", g_get_host_name ());
  g_autofree char *names = g_strdup_printf (
      "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1",
      g_get_host_name ());
  const char *argv[] = {
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "3650",
    "-subj",
    subject,
    "-addext",
    names,
    "-keyout",
    key_file,
    "-out",
    cert_file,
    NULL,
  };
  g_autofree char *err = NULL;
  int status;

  if (g_file_test (cert_file, G_FILE_TEST_EXISTS)
      && g_file_test (key_file, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_spawn_sync (NULL, (char **)argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                     NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s: openssl could not make a certificate: %s", cert_file,
                   g_strstrip (err));
      return FALSE;
    }
  g_chmod (key_file, 0600);
  return TRUE;
}
