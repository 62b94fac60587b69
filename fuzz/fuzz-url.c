/* fuzz-url.c: the URL parser and the driver lookup behind every command
 *
 * Any string a user types as a source or destination goes through
 * imgxfer_url_parse() and imgxfer_driver_lookup_url(). A URL that parses
 * must give back a normalized string that parses again to the same
 * scheme, host, port and path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer.h>

#include "fuzz.h"

static const char *const known_params[] = { "size", "socket", "format", NULL };

static void
check_url (ImgxferUrl *url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferUrl) again = NULL;
  g_autofree char *local = NULL;
  const char *normalized = imgxfer_url_to_string (url);

  imgxfer_url_get_string (url);
  imgxfer_url_get_host (url);
  imgxfer_url_get_param (url, "socket");
  imgxfer_url_check_params (url, known_params, NULL);
  if (imgxfer_url_is_local (url))
    local = imgxfer_url_get_local_path (url, NULL);

  again = imgxfer_url_parse (normalized, &error);
  if (again == NULL)
    g_error ("%s: normalized to %s, which does not parse: %s",
             imgxfer_url_get_string (url), normalized, error->message);
  g_assert_cmpstr (imgxfer_url_get_scheme (again), ==,
                   imgxfer_url_get_scheme (url));
  g_assert_cmpstr (imgxfer_url_get_host (again), ==,
                   imgxfer_url_get_host (url));
  g_assert_cmpint (imgxfer_url_get_port (again), ==,
                   imgxfer_url_get_port (url));
  g_assert_cmpstr (imgxfer_url_get_path (again), ==,
                   imgxfer_url_get_path (url));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *string = g_strndup ((const char *)data, size);
  g_autoptr (ImgxferUrl) url = NULL;
  g_autoptr (GError) error = NULL;

  /* Only the drivers linked in, as the tests do: none loaded. */
  g_setenv ("IMGXFER_DRIVER_PATH", "", TRUE);

  /* The parser sees C strings: a NUL ends the input. */
  url = imgxfer_url_parse (string, &error);
  if (url == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error->message, -1, NULL)
                     || !g_utf8_validate (string, -1, NULL));
    }
  else
    check_url (url);

  g_clear_error (&error);
  if (imgxfer_driver_lookup_url (string, &error) == G_TYPE_INVALID)
    g_assert_nonnull (error);
  return 0;
}
