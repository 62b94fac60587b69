/* imgxfer-size.c: sizes as people write them
 *
 * The command's options and the drivers' URLs (memory:?size=1m, the
 * example pattern:1m) read sizes alike.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-size.h>

/**
 * imgxfer_size_parse:
 * @text: a number of bytes, with an optional suffix: b, k, m, g, t or p
 *   (any case, powers of 1024), which may be followed by "b" or "ib"
 *   ("4k", "1MiB", "2GB")
 * @size: (out): where to store the size
 * @error: return location for a #GError
 *
 * Reads a size as the command's options and the drivers' URLs take it
 * ("memory:?size=1g"), so that a driver reads sizes as the rest of
 * imgxfer does. No sign, space or fraction is accepted.
 *
 * Returns: %TRUE when @text is such a size, %FALSE with
 *   %IMGXFER_ERROR_INVALID_ARGUMENT (naming @text) when it is not or when
 *   it does not fit 64 bits
 *
 * Since: 0.1
 */
gboolean
imgxfer_size_parse (const char *text, guint64 *size, GError **error)
{
  static const char units[] = "bkmgtp";
  guint64 value;
  char *end;
  const char *unit;

  g_return_val_if_fail (text != NULL && size != NULL, FALSE);

  if (!g_ascii_isdigit (text[0]))
    goto invalid;

  errno = 0;
  value = g_ascii_strtoull (text, &end, 10);
  if (errno == ERANGE)
    goto invalid;
  if (*end == '\0')
    {
      *size = value;
      return TRUE;
    }

  unit = strchr (units, g_ascii_tolower (*end));
  if (unit == NULL || (end[1] != '\0' && g_ascii_strcasecmp (end + 1, "ib")
                       && g_ascii_strcasecmp (end + 1, "b")))
    goto invalid;

  for (const char *u = units; u < unit; u++)
    {
      if (value > G_MAXUINT64 / 1024)
        goto invalid;
      value *= 1024;
    }
  *size = value;
  return TRUE;

invalid:
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "invalid size \"%s\" (use a number with an optional k, m, g "
               "or t suffix)", text);
  return FALSE;
}
