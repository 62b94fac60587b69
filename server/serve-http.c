/* serve-http.c: requests and responses in imageio's form
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>

#include "serve-error.h"
#include "serve-http.h"
#include "serve-json.h"

static void
send_text (SoupServerMessage *msg, guint status, const char *message)
{
  char *body = g_strconcat (message, "\n", NULL);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=UTF-8",
                                    SOUP_MEMORY_TAKE, body, strlen (body));
}

void
serve_http_send_error (SoupServerMessage *msg, const GError *error)
{
  guint status = serve_error_status (error);

  /* Internal errors name what failed (a file, a server), which the
   * daemon's owner wants to see; imageio hides them in its log. */
  send_text (msg, status, error->message);
}

void
serve_http_send_status (SoupServerMessage *msg, guint status,
                        const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (SERVE_ERROR, status, format, args);
  va_end (args);
  serve_http_send_error (msg, error);
}

void
serve_http_send_range_error (SoupServerMessage *msg, const GError *error,
                             guint64 size)
{
  g_autofree char *range = g_strdup_printf ("bytes */%" G_GUINT64_FORMAT, size);

  serve_http_send_error (msg, error);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Content-Range", range);
}

void
serve_http_send_json (SoupServerMessage *msg, JsonNode *node)
{
  char *body = serve_json_dumps (node);

  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    body, strlen (body));
}

void
serve_http_send_empty (SoupServerMessage *msg, guint status)
{
  soup_server_message_set_status (msg, status, NULL);
  if (status != 204)
    soup_message_headers_set_content_length (
        soup_server_message_get_response_headers (msg), 0);
}

void
serve_http_close_connection (SoupServerMessage *msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
}

/* Digits only, no sign, no space: strtoull alone takes " -1". */
static gboolean
parse_number (const char *start, const char *end, guint64 *value)
{
  g_autofree char *text = g_strndup (start, end - start);

  if (*text == '\0' || strspn (text, "0123456789") != strlen (text))
    return FALSE;
  return g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, value, NULL);
}

gboolean
serve_http_parse_range (const char *header, guint64 *first, gint64 *last,
                        GError **error)
{
  g_autofree char *quoted = serve_repr (header);
  const char *dash;
  guint64 value;

  if (!g_str_has_prefix (header, "bytes=")
      || (dash = strchr (header, '-')) == NULL)
    goto invalid;
  if (dash == header + 6)
    {
      if (dash[1] == '\0')
        {
          g_set_error (error, SERVE_ERROR, 416,
                       "Cannot satisfy range %s, no first or last", quoted);
          return FALSE;
        }
      if (!parse_number (dash + 1, dash + strlen (dash), &value))
        goto invalid;
      g_set_error_literal (error, SERVE_ERROR, 416,
                           "suffix-byte-range-spec not supported yet");
      return FALSE;
    }
  if (!parse_number (header + 6, dash, first))
    goto invalid;
  if (dash[1] == '\0')
    {
      *last = -1;
      return TRUE;
    }
  if (!parse_number (dash + 1, dash + strlen (dash), &value))
    goto invalid;
  if (*first > value)
    {
      g_set_error (error, SERVE_ERROR, 416,
                   "Cannot satisfy range %s, first > last", quoted);
      return FALSE;
    }
  *last = value;
  return TRUE;

invalid:
  g_set_error (error, SERVE_ERROR, 416,
               "Cannot satisfy range %s, invalid range or multiple ranges",
               quoted);
  return FALSE;
}

gboolean
serve_http_parse_content_range (const char *header, guint64 *first,
                                gint64 *last_byte, GError **error)
{
  g_autofree char *quoted = serve_repr (header);
  const char *dash, *slash;
  guint64 last = 0, complete = 0;
  gboolean has_last, has_complete;

  if (!g_str_has_prefix (header, "bytes ")
      || (dash = strchr (header, '-')) == NULL
      || (slash = strchr (dash, '/')) == NULL
      || !parse_number (header + 6, dash, first))
    goto invalid;
  has_last = !(slash == dash + 2 && dash[1] == '*');
  has_complete = !g_str_equal (slash + 1, "*");
  if ((has_last && !parse_number (dash + 1, slash, &last))
      || (has_complete
          && !parse_number (slash + 1, slash + strlen (slash), &complete)))
    goto invalid;
  if (has_last && last < *first)
    {
      g_set_error (error, SERVE_ERROR, 400,
                   "Invalid Content-Range %s, first > last", quoted);
      return FALSE;
    }
  if (has_last && has_complete && last >= complete)
    {
      g_set_error (error, SERVE_ERROR, 400,
                   "Invalid Content-Range %s, last >= complete", quoted);
      return FALSE;
    }
  *last_byte = has_last ? (gint64)last : -1;
  return TRUE;

invalid:
  g_set_error (error, SERVE_ERROR, 400, "Invalid Content-Range %s", quoted);
  return FALSE;
}

GHashTable *
serve_http_parse_query (const char *query)
{
  GHashTable *params
      = query ? g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL)
              : NULL;

  return params ? params : g_hash_table_new (g_str_hash, g_str_equal);
}

const char *
serve_http_query (SoupServerMessage *msg, const char *key)
{
  GHashTable *params = g_object_get_data (G_OBJECT (msg), "serve-query");

  if (params == NULL)
    {
      params = serve_http_parse_query (
          g_uri_get_query (soup_server_message_get_uri (msg)));
      g_object_set_data_full (G_OBJECT (msg), "serve-query", params,
                              (GDestroyNotify)g_hash_table_unref);
    }
  return g_hash_table_lookup (params, key);
}

/* A list as Python prints a sorted list of str. */
static char *
python_list (const char *const *values)
{
  g_auto (GStrv) sorted = serve_sorted_strv (values);
  GString *out = g_string_new ("[");

  for (guint i = 0; sorted[i]; i++)
    {
      g_autofree char *quoted = serve_repr (sorted[i]);
      g_string_append_printf (out, "%s%s", i ? ", " : "", quoted);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

gboolean
serve_http_query_enum (SoupServerMessage *msg, const char *key,
                       const char *const *values, const char *fallback,
                       const char **value, GError **error)
{
  return serve_http_check_enum (key, serve_http_query (msg, key), values,
                                fallback, value, error);
}

gboolean
serve_http_check_enum (const char *key, const char *given,
                       const char *const *values, const char *fallback,
                       const char **value, GError **error)
{
  g_autofree char *quoted = NULL;
  g_autofree char *list = NULL;

  if (given == NULL)
    {
      *value = fallback;
      return TRUE;
    }
  if (g_strv_contains (values, given))
    {
      *value = given;
      return TRUE;
    }
  quoted = serve_repr (given);
  list = python_list (values);
  g_set_error (error, SERVE_ERROR, 400,
               "Unsupported value %s for '%s', expecting one of %s", quoted,
               key, list);
  return FALSE;
}

gboolean
serve_http_content_length (SoupServerMessage *msg, guint64 *length,
                           GError **error)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (headers)
      != SOUP_ENCODING_CONTENT_LENGTH)
    {
      g_set_error_literal (error, SERVE_ERROR, 400,
                           "Content-Length header is required");
      return FALSE;
    }
  *length = soup_message_headers_get_content_length (headers);
  return TRUE;
}
