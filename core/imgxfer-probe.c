/* imgxfer-probe.c: naming an image's format from its first bytes
 *
 * The library knows no format: each driver declares the signatures of
 * the formats it opens (#ImgxferBackendClass.signatures, or Signatures=
 * in a module's description, so that probing loads no module), and the
 * probe tries them all in resolution order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-driver-private.h"

/* Magic bytes further in than this are refused: a probe reads this much
 * of every local source of unknown format. */
#define MAX_SIGNATURE_END (64 * 1024)

typedef struct
{
  char *format;
  guint64 offset;
  GBytes *magic;
} Signature;

static void
signature_free (Signature *signature)
{
  g_free (signature->format);
  g_clear_pointer (&signature->magic, g_bytes_unref);
  g_free (signature);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Signature, signature_free)

static GBytes *
parse_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  g_autofree guint8 *bytes = NULL;

  if (n == 0 || strlen (hex) % 2 != 0)
    return NULL;
  bytes = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    {
      int high = g_ascii_xdigit_value (hex[2 * i]);
      int low = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (high < 0 || low < 0)
        return NULL;
      bytes[i] = high << 4 | low;
    }
  return g_bytes_new_take (g_steal_pointer (&bytes), n);
}

/* "FORMAT:OFFSET:HEX", or %NULL when @text is not of that form. */
static Signature *
signature_parse (const char *text)
{
  g_auto (GStrv) fields = g_strsplit (text, ":", 3);
  g_autoptr (Signature) signature = g_new0 (Signature, 1);
  char *end = NULL;

  if (g_strv_length (fields) != 3 || fields[0][0] == '\0'
      || !g_ascii_isdigit (fields[1][0]))
    return NULL;
  signature->format = g_strdup (fields[0]);
  signature->offset = g_ascii_strtoull (fields[1], &end, 0);
  signature->magic = parse_hex (fields[2]);
  if (*end != '\0' || signature->magic == NULL
      || signature->offset > MAX_SIGNATURE_END
      || signature->offset + g_bytes_get_size (signature->magic)
             > MAX_SIGNATURE_END)
    return NULL;
  return g_steal_pointer (&signature);
}

gboolean
_imgxfer_signature_is_valid (const char *text)
{
  g_autoptr (Signature) signature = signature_parse (text);

  return signature != NULL;
}

/* The drivers' signatures, parsed, in the order they are tried. */
static GPtrArray *
all_signatures (void)
{
  g_autoptr (GPtrArray) texts = _imgxfer_driver_list_signatures ();
  GPtrArray *signatures
      = g_ptr_array_new_with_free_func ((GDestroyNotify)signature_free);

  for (guint i = 0; i < texts->len; i++)
    {
      Signature *signature = signature_parse (texts->pdata[i]);

      if (signature != NULL)
        g_ptr_array_add (signatures, signature);
      else
        g_warning ("Ignoring the malformed format signature \"%s\"",
                   (const char *)texts->pdata[i]);
    }
  return signatures;
}

static gboolean
signature_matches (const Signature *signature, const guint8 *head, gsize n)
{
  gsize length;
  const guint8 *magic = g_bytes_get_data (signature->magic, &length);

  return signature->offset + length <= n
         && memcmp (head + signature->offset, magic, length) == 0;
}

/**
 * imgxfer_probe_format:
 * @source: a protocol-level source (raw bytes)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Names the format of the image whose bytes @source reads, by the
 * signatures that the drivers declare (#ImgxferBackendClass.signatures):
 * the first that matches, of the drivers in resolution order. Probing
 * loads no driver module. imgxfer_open() probes only local sources opened
 * read only whose format was not given: never a destination, nor an
 * image a guest could have written (a raw disk may hold another format's
 * header), whose format should be given instead.
 *
 * Returns: (transfer none) (nullable): the format named by the image's
 *   first bytes, "raw" when none; %NULL when reading them fails, with
 *   @error set
 *
 * Since: 0.1
 */
const char *
imgxfer_probe_format (ImgxferBackend *source,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GPtrArray) signatures = all_signatures ();
  g_autofree guint8 *head = NULL;
  guint64 end = 0;
  gsize n;

  g_return_val_if_fail (IMGXFER_IS_SOURCE (source), NULL);

  for (guint i = 0; i < signatures->len; i++)
    {
      const Signature *signature = signatures->pdata[i];

      end = MAX (end,
                 signature->offset + g_bytes_get_size (signature->magic));
    }
  n = MIN (imgxfer_backend_get_size (source), end);
  head = g_malloc (MAX (n, 1));
  if (n > 0
      && !imgxfer_source_pread (IMGXFER_SOURCE (source), head, n, 0,
                                cancellable, error))
    return NULL;

  for (guint i = 0; i < signatures->len; i++)
    {
      const Signature *signature = signatures->pdata[i];

      if (signature_matches (signature, head, n))
        return g_intern_string (signature->format);
    }
  return "raw";
}
