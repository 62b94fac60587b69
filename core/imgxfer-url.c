/* imgxfer-url.c: the one parser of the paths and URLs that name images
 *
 * Three forms are read here and nowhere else:
 *
 *   plain paths  "disk.img", "/dev/sdb", "./a:b": no scheme, taken as they
 *                are (no percent-decoding, no query);
 *   URLs         "scheme://host:port/path?a=b", "memory:NAME?size=1g",
 *                through GLib's GUri; the scheme is case-insensitive and
 *                kept in lower case, the path and the query values are
 *                percent-decoded;
 *   qemu's older NBD forms "nbd:unix:PATH[:exportname=NAME]" and
 *                "nbd:HOST:PORT[:exportname=NAME]", read as the
 *                "nbd+unix:///NAME?socket=PATH" and "nbd://HOST:PORT/NAME"
 *                they mean.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-driver-private.h"

struct _ImgxferUrl
{
  gatomicrefcount ref_count;
  char *string;      /* as given */
  char *normalized;  /* what imgxfer_url_to_string() returns */
  char *scheme;      /* lower case, "" for a plain path */
  char *host;        /* decoded, IPv6 without brackets; NULL when none */
  int port;          /* -1 when none */
  char *path;        /* decoded */
  GPtrArray *params; /* key, value, key, value... decoded */
};

G_DEFINE_BOXED_TYPE (ImgxferUrl, imgxfer_url, imgxfer_url_ref,
                     imgxfer_url_unref)

#define LEGACY_NBD_FORMS                                                       \
  "nbd:unix:PATH[:exportname=NAME] or nbd:HOST:PORT[:exportname=NAME]"

/* @text with each byte that is not UTF-8 written %XX, as a URL would
 * write it. An error message must be UTF-8 (GLib, a terminal, JSON and
 * TAP output expect it), while a URL given on a command line may hold
 * any bytes; GUri refuses those, and so do the legacy NBD forms, in
 * messages that name the URL. */
static char *
escape_invalid_utf8 (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *end;

  while (!g_utf8_validate (text, -1, &end))
    {
      g_string_append_len (out, text, end - text);
      g_string_append_printf (out, "%%%02X", (guchar)*end);
      text = end + 1;
    }
  g_string_append (out, text);
  return g_string_free (out, FALSE);
}

static gboolean G_GNUC_PRINTF (3, 4)
    invalid (GError **error, const char *string, const char *format, ...)
{
  g_autofree char *message = NULL;
  g_autofree char *shown = escape_invalid_utf8 (string);
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "%s: invalid URL: %s", shown, message);
  return FALSE;
}

/* The length of the scheme of @string, 0 when it is a plain path: a
 * letter, then letters, digits, '+', '-' or '.', then ':' (RFC 3986). */
static gsize
scheme_length (const char *string)
{
  const char *p = string;

  if (!g_ascii_isalpha (*p))
    return 0;
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  return *p == ':' ? (gsize)(p - string) : 0;
}

static void
add_param (ImgxferUrl *self, const char *key, const char *value)
{
  g_ptr_array_add (self->params, g_strdup (key));
  g_ptr_array_add (self->params, g_strdup (value));
}

/* A parameter given twice is refused: which one would count is a guess
 * that silently picks one image over another. */
static gboolean
parse_query (ImgxferUrl *self, const char *query, GError **error)
{
  GUriParamsIter iter;
  g_autoptr (GError) local_error = NULL;
  char *key, *value;

  g_uri_params_iter_init (&iter, query, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &key, &value, &local_error))
    {
      g_autofree char *owned_key = key;
      g_autofree char *owned_value = value;

      if (imgxfer_url_get_param (self, key) != NULL)
        return invalid (error, self->string,
                        "the parameter \"%s\" is given more than once", key);
      add_param (self, key, value);
    }
  if (local_error)
    return invalid (error, self->string, "%s", local_error->message);
  return TRUE;
}

static gboolean
parse_uri (ImgxferUrl *self, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GUri) uri = NULL;
  const char *host;

  /* The path and the query stay encoded here: a query value may hold an
   * encoded '&', and the path is decoded below, refusing an encoded NUL. */
  uri = g_uri_parse (self->string,
                     G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_ENCODED_PATH,
                     &local_error);
  if (uri == NULL)
    return invalid (error, self->string, "%s", local_error->message);
  if (g_uri_get_fragment (uri) != NULL)
    return invalid (error, self->string, "unexpected fragment \"#%s\"",
                    g_uri_get_fragment (uri));

  host = g_uri_get_host (uri);
  self->host = host && *host ? g_strdup (host) : NULL;
  self->port = g_uri_get_port (uri);
  self->path = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  if (self->path == NULL)
    return invalid (error, self->string, "invalid percent-encoding in \"%s\"",
                    g_uri_get_path (uri));

  self->normalized
      = g_strconcat (self->scheme, self->string + strlen (self->scheme), NULL);
  return g_uri_get_query (uri) == NULL
         || parse_query (self, g_uri_get_query (uri), error);
}

static gboolean
parse_port (const char *text, int *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = (int)value;
  return TRUE;
}

/* A host name or an IP address, nothing a URL would read otherwise ('/',
 * '@', '%'...): the host is written back into the normalized URL. */
static gboolean
valid_legacy_host (const char *host)
{
  if (g_hostname_is_ip_address (host))
    return TRUE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return *host != '\0';
}

/* "HOST:PORT" or "[IPV6]:PORT". */
static gboolean
parse_legacy_address (ImgxferUrl *self, const char *address)
{
  const char *colon;

  if (address[0] == '[')
    {
      const char *end = strchr (address, ']');

      if (end == NULL || end == address + 1 || end[1] != ':')
        return FALSE;
      self->host = g_strndup (address + 1, end - address - 1);
      colon = end + 1;
    }
  else
    {
      colon = strrchr (address, ':');
      if (colon == NULL || colon == address)
        return FALSE;
      self->host = g_strndup (address, colon - address);
    }
  return valid_legacy_host (self->host) && parse_port (colon + 1, &self->port);
}

/* The export name as one segment of a URL path: '/' and '.' encoded too,
 * or GUri would read "a/../b" as "b" when the normalized URL is parsed. */
static char *
escape_export_name (const char *name)
{
  g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);
  g_auto (GStrv) parts = g_strsplit (escaped, ".", -1);

  return g_strjoinv ("%2E", parts);
}

/* qemu's "nbd:unix:PATH[:exportname=NAME]" and
 * "nbd:HOST:PORT[:exportname=NAME]": the export name is not encoded. */
static gboolean
parse_legacy_nbd (ImgxferUrl *self, GError **error)
{
  const char *rest = self->string + strlen ("nbd:");
  const char *export_part = strstr (rest, ":exportname=");
  g_autofree char *address
      = export_part ? g_strndup (rest, export_part - rest) : g_strdup (rest);
  const char *name = export_part ? export_part + strlen (":exportname=") : "";
  g_autofree char *escaped_name = escape_export_name (name);

  /* As a URL, which GUri refuses with bytes that are not UTF-8: the same
   * socket, host or export is never accepted in one form and refused in
   * the other, and the normalized URL always parses again. */
  if (!g_utf8_validate (self->string, -1, NULL))
    return invalid (error, self->string, "not UTF-8");
  /* GUri drops "." and ".." segments even when percent-encoded, so these
   * two names have no URL that names them. */
  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    return invalid (error, self->string,
                    "export name \"%s\" cannot be written as a URL", name);

  self->path = g_strconcat ("/", name, NULL);
  if (g_str_has_prefix (address, "unix:") && address[5] != '\0')
    {
      g_autofree char *escaped = g_uri_escape_string (address + 5, "/", FALSE);

      g_free (self->scheme);
      self->scheme = g_strdup ("nbd+unix");
      add_param (self, "socket", address + 5);
      self->normalized
          = g_strdup_printf ("nbd+unix:///%s?socket=%s", escaped_name, escaped);
      return TRUE;
    }

  if (g_str_has_prefix (address, "unix:")
      || !parse_legacy_address (self, address))
    return invalid (error, self->string, "expected " LEGACY_NBD_FORMS);

  self->normalized = g_strdup_printf (
      strchr (self->host, ':') ? "nbd://[%s]:%d/%s" : "nbd://%s:%d/%s",
      self->host, self->port, escaped_name);
  return TRUE;
}

/**
 * imgxfer_url_parse:
 * @string: a path or URL
 * @error: return location for a #GError
 *
 * Parses a path or URL. A string without a scheme (a letter, then
 * letters, digits, '+', '-' or '.', then ':') is a plain path, taken as it
 * is. A URL's scheme is case-insensitive; its host, path and query values
 * are percent-decoded. qemu's "nbd:unix:PATH[:exportname=NAME]" and
 * "nbd:HOST:PORT[:exportname=NAME]" read as the nbd+unix: and nbd: URLs
 * they mean. Fails with %IMGXFER_ERROR_INVALID_ARGUMENT on an empty
 * string, a malformed URL, a fragment, or a query parameter given twice.
 *
 * Returns: (transfer full): the parsed URL, or %NULL
 *
 * Since: 0.1
 */
ImgxferUrl *
imgxfer_url_parse (const char *string, GError **error)
{
  g_autoptr (ImgxferUrl) self = NULL;
  gsize length;

  g_return_val_if_fail (string != NULL, NULL);

  if (*string == '\0')
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "an empty string names no image");
      return NULL;
    }

  self = g_new0 (ImgxferUrl, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->string = g_strdup (string);
  self->port = -1;
  self->params = g_ptr_array_new_with_free_func (g_free);

  length = scheme_length (string);
  self->scheme = g_ascii_strdown (string, length);
  if (length == 0)
    {
      self->path = g_strdup (string);
      self->normalized = g_strdup (string);
      return g_steal_pointer (&self);
    }

  if (g_str_equal (self->scheme, "nbd") && !g_str_has_prefix (string + 4, "//")
          ? !parse_legacy_nbd (self, error)
          : !parse_uri (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * imgxfer_url_ref:
 * @self: a URL
 *
 * Takes a reference to @self. Thread safe.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
ImgxferUrl *
imgxfer_url_ref (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * imgxfer_url_unref:
 * @self: (transfer full): a URL
 *
 * Drops a reference to @self, freeing it with the last one. Thread safe.
 *
 * Since: 0.1
 */
void
imgxfer_url_unref (ImgxferUrl *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->string);
  g_free (self->normalized);
  g_free (self->scheme);
  g_free (self->host);
  g_free (self->path);
  g_ptr_array_unref (self->params);
  g_free (self);
}

/**
 * imgxfer_url_get_string:
 * @self: a URL
 *
 * Gets the path or URL as it was given to imgxfer_url_parse().
 *
 * Returns: the string as it was given, for messages
 *
 * Since: 0.1
 */
const char *
imgxfer_url_get_string (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->string;
}

/**
 * imgxfer_url_get_scheme:
 * @self: a URL
 *
 * Gets the scheme of the URL, which picks the driver that opens it.
 *
 * Returns: the scheme in lower case ("nbd+unix" for qemu's
 *   "nbd:unix:" form); "" for a plain path
 *
 * Since: 0.1
 */
const char *
imgxfer_url_get_scheme (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->scheme;
}

/**
 * imgxfer_url_get_host:
 * @self: a URL
 *
 * Gets the host part of the URL.
 *
 * Returns: (nullable): the host, decoded, an IPv6 address without its
 *   brackets; %NULL when the URL names none
 *
 * Since: 0.1
 */
const char *
imgxfer_url_get_host (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->host;
}

/**
 * imgxfer_url_get_port:
 * @self: a URL
 *
 * Gets the port of the URL.
 *
 * Returns: the port, or -1 when the URL gives none
 *
 * Since: 0.1
 */
int
imgxfer_url_get_port (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->port;
}

/**
 * imgxfer_url_get_path:
 * @self: a URL
 *
 * Gets the path of the URL, or the plain path.
 *
 * Returns: the path, decoded; a plain path as it was given
 *
 * Since: 0.1
 */
const char *
imgxfer_url_get_path (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

/**
 * imgxfer_url_get_param:
 * @self: a URL
 * @name: a query parameter's name
 *
 * Gets a query parameter of the URL ("socket" of
 * "nbd+unix:///?socket=PATH").
 *
 * Returns: (nullable): the parameter's value, decoded, or %NULL when the
 *   query does not have it
 *
 * Since: 0.1
 */
const char *
imgxfer_url_get_param (ImgxferUrl *self, const char *name)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < self->params->len; i += 2)
    if (g_str_equal (g_ptr_array_index (self->params, i), name))
      return g_ptr_array_index (self->params, i + 1);
  return NULL;
}

/**
 * imgxfer_url_check_params:
 * @self: a URL
 * @known: (array zero-terminated=1) (nullable): the parameters a driver
 *   reads
 * @error: return location for a #GError
 *
 * Refuses a query parameter that is not in @known, so that a misspelt
 * one is not silently ignored.
 *
 * Returns: %TRUE when every parameter is known
 *
 * Since: 0.1
 */
gboolean
imgxfer_url_check_params (ImgxferUrl *self, const char *const *known,
                          GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  for (guint i = 0; i < self->params->len; i += 2)
    {
      const char *key = g_ptr_array_index (self->params, i);
      g_autofree char *names = NULL;

      if (known != NULL && g_strv_contains (known, key))
        continue;
      names = known ? g_strjoinv (", ", (char **)known) : NULL;
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: unknown URL parameter \"%s\" (%s%s)", self->string, key,
                   names && *names ? "known: " : "none is known",
                   names ? names : "");
      return FALSE;
    }
  return TRUE;
}

/**
 * imgxfer_url_is_local:
 * @self: a URL
 *
 * Tells whether the URL names this host.
 *
 * Returns: %TRUE when the URL names no host other than this one: no host,
 *   or "localhost"
 *
 * Since: 0.1
 */
gboolean
imgxfer_url_is_local (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->host == NULL
         || g_ascii_strcasecmp (self->host, "localhost") == 0;
}

/**
 * imgxfer_url_get_local_path:
 * @self: a URL
 * @error: return location for a #GError
 *
 * The local file a plain path or a file: URL names. A file: URL naming
 * another host is refused: it is not the file of the same path here.
 *
 * Returns: (transfer full) (type filename): the path, or %NULL with
 *   %IMGXFER_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
char *
imgxfer_url_get_local_path (ImgxferUrl *self, GError **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (self->scheme[0] != '\0' && !g_str_equal (self->scheme, "file"))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: not a local path or file: URL", self->string);
      return NULL;
    }
  if (!imgxfer_url_is_local (self))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: not a local file: the URL names the host \"%s\"",
                   self->string, self->host);
      return NULL;
    }
  if (self->path[0] == '\0' || self->params->len > 0)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: expected file:///PATH", self->string);
      return NULL;
    }
  return g_strdup (self->path);
}

/**
 * imgxfer_url_to_string:
 * @self: a URL
 *
 * Gets the URL in the form a library that knows only standard URLs
 * takes.
 *
 * Returns: the URL in its normal form: the scheme in lower case, qemu's
 *   older NBD forms as the nbd: or nbd+unix: URL they mean, the rest as
 *   given; what a library that knows only these forms (libnbd) is given
 *
 * Since: 0.1
 */
const char *
imgxfer_url_to_string (ImgxferUrl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->normalized;
}

/* For the registry's callers that only ask which driver a URL goes to: a
 * string that does not parse still has the scheme it starts with, and
 * imgxfer_driver_lookup_url() reports why it does not parse. */
char *
_imgxfer_url_scheme (const char *url)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, NULL);

  if (parsed == NULL)
    return g_ascii_strdown (url, scheme_length (url));
  return g_strdup (parsed->scheme);
}
