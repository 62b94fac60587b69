/* cmd-convert.c: imgxfer convert
 *
 * Copies SRC to DST with the copy engine, in the conventions of
 * `qemu-img convert`: the source's format is probed unless given, the
 * destination's never is; a local destination is created (replaced when
 * it exists) unless -n says it already exists; a remote one (nbd://) must
 * exist.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>

#include "cli-progress.h"
#include "cli.h"
#include "commands.h"
#include "image-args.h"

#define COMMAND "convert"
#define MIN_REQUEST_SIZE 4096

typedef struct
{
  /* The source: -f, --member, --bitmap, --shallow; and --output. */
  CliImageArgs source;
  char *target_format;  /* -O */
  gboolean progress;    /* -p */
  gboolean progress_json; /* --progress=json */
  gboolean no_create;   /* -n */
  gboolean target_is_zero;
  char *backing;        /* -B */
  char *backing_format; /* -F */
  int connections;
  char *request_size_text;
  guint64 request_size;
  char *cache;        /* -t: destination cache mode */
  char *source_cache; /* -T */
  gboolean checksum;
  char *checksum_algorithm; /* NULL: the default */
} ConvertArgs;

static void
convert_args_clear (ConvertArgs *args)
{
  cli_image_args_clear (&args->source);
  g_free (args->target_format);
  g_free (args->backing);
  g_free (args->backing_format);
  g_free (args->request_size_text);
  g_free (args->cache);
  g_free (args->source_cache);
  g_free (args->checksum_algorithm);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ConvertArgs, convert_args_clear)

/* --checksum takes an optional algorithm, which GOption only offers
 * through a callback. */
static gboolean
on_checksum (const char *name,
             const char *value,
             gpointer data,
             GError **error)
{
  ConvertArgs *args = data;

  args->checksum = TRUE;
  g_free (args->checksum_algorithm);
  args->checksum_algorithm = value && *value ? g_strdup (value) : NULL;
  return TRUE;
}

/* -p, or --progress=json for the tools that drive imgxfer. */
static gboolean
on_progress_option (const char *name,
                    const char *value,
                    gpointer data,
                    GError **error)
{
  ConvertArgs *args = data;

  args->progress = TRUE;
  args->progress_json = value != NULL && g_str_equal (value, "json");
  if (value == NULL || *value == '\0' || args->progress_json)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--progress takes json or nothing, not \"%s\"", value);
  return FALSE;
}

/* GOption takes the word after an option with an optional argument as its
 * value ("--checksum SRC DST" would checksum with algorithm SRC), so a
 * bare --checksum is made "--checksum=" before parsing, and -p
 * "--progress=". */
static void
protect_optional_args (int argc, char **argv)
{
  for (int i = 1; i < argc && !g_str_equal (argv[i], "--"); i++)
    if (g_str_equal (argv[i], "--checksum"))
      argv[i] = (char *)"--checksum=";
    else if (g_str_equal (argv[i], "--progress") || g_str_equal (argv[i], "-p"))
      argv[i] = (char *)"--progress=";
}

static GOptionGroup *
option_group (ConvertArgs *args)
{
  const GOptionEntry entries[] = {
    { "source-format", 'f', 0, G_OPTION_ARG_STRING, &args->source.format,
      "Format of SRC (probed when not given)", "FMT" },
    { "target-format", 'O', 0, G_OPTION_ARG_STRING, &args->target_format,
      "Format of DST (default raw; never probed)", "FMT" },
    { "progress", 'p', G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
      on_progress_option,
      "Show progress on stderr; with json, one JSON object per line on "
      "stdout", "json" },
    { "no-create", 'n', 0, G_OPTION_ARG_NONE, &args->no_create,
      "DST exists: write into it instead of creating it", NULL },
    { "target-is-zero", 0, 0, G_OPTION_ARG_NONE, &args->target_is_zero,
      "DST already reads as zeroes: skip zeroing", NULL },
    { "backing", 'B', 0, G_OPTION_ARG_FILENAME, &args->backing,
      "Create DST with this backing file (needs -O qcow2)", "FILE" },
    { "backing-format", 'F', 0, G_OPTION_ARG_STRING, &args->backing_format,
      "Format of the backing file", "FMT" },
    { "member", 0, 0, G_OPTION_ARG_FILENAME, &args->source.member,
      "SRC is an OVA/tar archive: copy this member", "NAME" },
    { "bitmap", 0, 0, G_OPTION_ARG_STRING, &args->source.bitmap,
      "Copy only the ranges dirty in this bitmap of SRC", "NAME" },
    { "shallow", 0, 0, G_OPTION_ARG_NONE, &args->source.shallow,
      "Copy only the top layer of SRC's backing chain", NULL },
    { "allow-external-files", 0, 0, G_OPTION_ARG_NONE,
      &args->source.allow_external_files,
      "Let an image in an archive read host files it names (backing file, "
      "extents)",
      NULL },
    { "connections", 0, 0, G_OPTION_ARG_INT, &args->connections,
      "Parallel connections (default 4)", "N" },
    { "request-size", 0, 0, G_OPTION_ARG_STRING, &args->request_size_text,
      "Largest read/write request, e.g. 256k or 4M", "SIZE" },
    { "cache", 't', 0, G_OPTION_ARG_STRING, &args->cache,
      "DST cache mode: writeback (default) or none (direct I/O)", "MODE" },
    { "source-cache", 'T', 0, G_OPTION_ARG_STRING, &args->source_cache,
      "SRC cache mode: writeback (default) or none (direct I/O)", "MODE" },
    { "checksum", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
      on_checksum,
      "Print the checksum of the data copied, computed in the same pass "
      "(default blake2b)",
      "ALG" },
    { "output", 0, 0, G_OPTION_ARG_STRING, &args->source.output,
      "human (default) or json: a summary on stdout", "FORMAT" },
    { NULL },
  };
  GOptionGroup *group = g_option_group_new (COMMAND, NULL, NULL, args, NULL);

  g_option_group_add_entries (group, entries);
  cli_image_args_add_remote_entries (&args->source, group);
  return group;
}

static gboolean
is_raw (const char *format)
{
  return format == NULL || g_ascii_strcasecmp (format, "raw") == 0;
}

static gboolean
parse_cache (const char *mode, const char *option, gboolean *direct)
{
  if (mode == NULL || g_str_equal (mode, "writeback"))
    *direct = FALSE;
  else if (g_str_equal (mode, "none"))
    *direct = TRUE;
  else
    {
      cli_usage_error (COMMAND, "%s: unknown cache mode \"%s\" (use "
                                "writeback or none)", option, mode);
      return FALSE;
    }
  return TRUE;
}

/* Everything that can be wrong with the command line alone. */
static gboolean
check_args (ConvertArgs *args, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc != 3)
    {
      cli_usage_error (COMMAND, argc < 3 ? "SRC and DST are required"
                                         : "too many arguments");
      return FALSE;
    }
  if (!cli_check_image_names (COMMAND, argc, argv))
    return FALSE;
  if (!cli_image_args_check (&args->source, COMMAND))
    return FALSE;
  if (args->request_size_text
      && !imgxfer_size_parse (args->request_size_text, &args->request_size,
                              &error))
    {
      cli_usage_error (COMMAND, "--request-size: %s", error->message);
      return FALSE;
    }
  /* The library would raise it to a block (see
   * imgxfer_copy_set_request_size()); asking for less is a mistake. */
  if (args->request_size_text
      && (args->request_size < MIN_REQUEST_SIZE
          || args->request_size > G_MAXSIZE))
    {
      cli_usage_error (COMMAND,
                       "--request-size must be at least 4k, not "
                       "\"%s\"",
                       args->request_size_text);
      return FALSE;
    }
  if (args->connections < 0)
    {
      cli_usage_error (COMMAND, "--connections must not be negative");
      return FALSE;
    }
  if (args->backing_format && !args->backing)
    {
      cli_usage_error (COMMAND, "-F needs -B");
      return FALSE;
    }
  if (args->backing && is_raw (args->target_format))
    {
      cli_usage_error (COMMAND, "-B needs -O with a format that has backing "
                                "files, such as qcow2");
      return FALSE;
    }
  if (args->backing && args->no_create)
    {
      cli_usage_error (COMMAND, "-B creates DST; it cannot be used with -n");
      return FALSE;
    }
  if (args->checksum && args->source.bitmap)
    {
      cli_usage_error (COMMAND, "--checksum needs all of SRC; it cannot be "
                                "used with --bitmap");
      return FALSE;
    }
  return !args->checksum
         || cli_check_checksum_algorithm (COMMAND, args->checksum_algorithm);
}

/* Adds what both sides share to @options and returns them. */
static ImgxferOpenOptions *
common_options (ConvertArgs *args, ImgxferOpenOptions *options)
{
  imgxfer_open_options_set_connections (options, args->connections);
  imgxfer_open_options_set_ca_file (options, args->source.ca_file);
  imgxfer_open_options_set_insecure (options, args->source.insecure);
  imgxfer_open_options_set_proxy_url (options, args->source.proxy_url);
  imgxfer_open_options_set_retries (options, args->source.retries);
  imgxfer_open_options_set_timeout (options, args->source.timeout);
  return options;
}

static ImgxferBackend *
open_source (ConvertArgs *args,
             const char *url,
             gboolean direct,
             GCancellable *cancellable,
             GError **error)
{
  g_autoptr (ImgxferOpenOptions) options
      = common_options (args, cli_image_args_to_options (&args->source));

  imgxfer_open_options_set_direct (options, direct);
  return imgxfer_open (url, options, cancellable, error);
}

/* The library's destination policy: create or open, and refuse what
 * would destroy the source or a running machine's disk. */
static ImgxferBackend *
open_destination (ConvertArgs *args,
                  ImgxferBackend *source,
                  const char *url,
                  gboolean direct,
                  GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (ImgxferOpenOptions) options
      = common_options (args, imgxfer_open_options_new ());

  imgxfer_open_options_set_direct (options, direct);
  imgxfer_open_options_set_format (options, args->target_format);
  return imgxfer_open_destination (
      url, options, imgxfer_backend_get_size (source), source, args->backing,
      args->backing_format,
      args->no_create ? IMGXFER_DESTINATION_EXISTING : IMGXFER_DESTINATION_NONE,
      cancellable, error);
}

static void
on_progress (guint64 length, gpointer data)
{
  cli_progress_add (data, length);
}

/* The copy runs here, the workers drawing the progress as they go. */
static gboolean
run_copy (ImgxferCopy *copy,
          CliProgress *progress,
          GCancellable *cancellable,
          GError **error)
{
  gboolean ok;

  if (progress)
    imgxfer_copy_set_progress_func (copy, on_progress, progress, NULL);
  ok = imgxfer_copy_run (copy, cancellable, error);
  if (progress)
    cli_progress_finish (progress, ok);
  return ok;
}

static const char *
backend_format (ImgxferBackend *backend)
{
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  const char *format = imgxfer_open_options_get_format (options);

  return format ? format : "raw";
}

static void
print_summary (ConvertArgs *args,
               ImgxferBackend *source,
               ImgxferBackend *destination,
               const char *destination_url,
               double seconds,
               ImgxferChecksum *checksum,
               const char *digest)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *summary;

  if (!cli_image_args_json (&args->source))
    {
      if (digest)
        g_print ("%s  %s\n", digest, destination_url);
      return;
    }

  summary = json_object_new ();
  json_object_set_string_member (summary, "source",
                                 imgxfer_backend_get_url (source));
  json_object_set_string_member (summary, "source-format",
                                 backend_format (source));
  json_object_set_string_member (summary, "destination", destination_url);
  json_object_set_string_member (summary, "destination-format",
                                 backend_format (destination));
  json_object_set_int_member (summary, "size",
                              imgxfer_backend_get_size (source));
  json_object_set_double_member (summary, "seconds", seconds);
  if (digest)
    {
      /* In the form of the imageio checksum API. */
      JsonObject *object = json_object_new ();

      json_object_set_string_member (object, "algorithm",
                                     imgxfer_checksum_get_algorithm (checksum));
      json_object_set_int_member (object, "block_size",
                                  imgxfer_checksum_get_block_size (checksum));
      json_object_set_string_member (object, "checksum", digest);
      json_object_set_object_member (summary, "checksum", object);
    }

  root = json_node_init_object (json_node_alloc (), summary);
  json_object_unref (summary);
  cli_print_json (root);
}

static ImgxferCopy *
new_copy (ConvertArgs *args,
          ImgxferBackend *source,
          ImgxferBackend *destination)
{
  ImgxferCopy *copy = imgxfer_copy_new (source, destination);

  if (args->connections > 0)
    imgxfer_copy_set_connections (copy, args->connections);
  if (args->request_size > 0)
    imgxfer_copy_set_request_size (copy, args->request_size);
  imgxfer_copy_set_target_is_zero (copy, args->target_is_zero);
  imgxfer_copy_set_shallow (copy, args->source.shallow);
  imgxfer_copy_set_dirty_only (copy, args->source.bitmap != NULL);
  return copy;
}

/* As qemu-img convert -B does: the new backing file is taken to hold what
 * SRC's backing chain holds, so when SRC has one, only SRC's top layer is
 * copied (a shallow copy) and the ranges it does not allocate show the
 * new backing file. Without a backing file, those ranges are SRC's own
 * zeroes and are written as such. */
static gboolean
source_has_backing (ConvertArgs *args,
                    const char *url,
                    GCancellable *cancellable,
                    gboolean *has_backing,
                    GError **error)
{
  g_autoptr (ImgxferOpenOptions) options
      = cli_image_args_to_options (&args->source);
  g_autoptr (JsonNode) info
      = imgxfer_image_info (url, options, cancellable, error);

  if (info == NULL)
    return FALSE;
  *has_backing = json_object_has_member (json_node_get_object (info),
                                         "backing-filename");
  return TRUE;
}

/* A failure after Ctrl-C is reported as the cancellation it comes from,
 * naming what was being copied. */
static int
fail (const GError *error, const char *source_url, const char *destination_url)
{
  return cli_fail_or_cancelled (error, "copy of %s to %s", source_url,
                                destination_url);
}

static int
convert (ConvertArgs *args, const char *source_url,
         const char *destination_url)
{
  GCancellable *cancellable = cli_cancellable ();
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (CliProgress) progress = NULL;
  g_autoptr (ImgxferChecksum) checksum = NULL;
  g_autofree char *digest = NULL;
  gboolean direct, source_direct;
  gint64 start;

  if (!parse_cache (args->cache, "-t", &direct)
      || !parse_cache (args->source_cache, "-T", &source_direct))
    return CLI_EXIT_USAGE;
  if (args->backing && !args->source.shallow
      && !source_has_backing (args, source_url, cancellable,
                              &args->source.shallow, &error))
    return fail (error, source_url, destination_url);

  start = g_get_monotonic_time ();
  source = open_source (args, source_url, source_direct, cancellable,
                        &error);
  if (source == NULL)
    return fail (error, source_url, destination_url);

  destination = open_destination (args, source, destination_url, direct,
                                  cancellable, &error);
  if (destination == NULL)
    return fail (error, source_url, destination_url);

  copy = new_copy (args, source, destination);
  if (args->checksum)
    {
      checksum = imgxfer_checksum_new (args->checksum_algorithm, 0,
                                       imgxfer_backend_get_size (source),
                                       &error);
      if (checksum == NULL)
        return fail (error, source_url, destination_url);
      imgxfer_copy_set_checksum (copy, checksum);
    }
  if (args->progress)
    progress = cli_progress_new (imgxfer_backend_get_size (source),
                                 args->progress_json);
  /* The copy flushed every connection; closing says whether the rest
   * ended well (qemu-nbd stopped cleanly, nothing failed on close). */
  if (!run_copy (copy, progress, cancellable, &error)
      || !imgxfer_backend_close (destination, IMGXFER_CLOSE_NONE, cancellable,
                                 &error)
      || !imgxfer_backend_close (source, IMGXFER_CLOSE_NONE, cancellable,
                                 &error))
    return fail (error, source_url, destination_url);

  if (checksum)
    {
      digest = imgxfer_checksum_finish (checksum, &error);
      if (digest == NULL)
        return fail (error, source_url, destination_url);
    }

  print_summary (args, source, destination, destination_url,
                 (g_get_monotonic_time () - start) / (double)G_USEC_PER_SEC,
                 checksum, digest);
  return CLI_EXIT_OK;
}

static int
run (int argc, char **argv)
{
  g_auto (ConvertArgs) args = { 0 };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("SRC DST - copy an image");

  g_option_context_set_main_group (context, option_group (&args));
  g_option_context_set_summary (
      context,
      "Copy SRC to DST, keeping holes. SRC and DST are paths or URLs\n"
      "(see `imgxfer drivers`). A local DST is created at SRC's size,\n"
      "replacing any file there, unless -n is given.");
  /* A pipe destination whose reader went away gives EPIPE, reported
   * like any write error, instead of killing the command silently. */
  signal (SIGPIPE, SIG_IGN);
  protect_optional_args (argc, argv);
  if (!cli_parse (context, &argc, &argv))
    return CLI_EXIT_USAGE;
  if (!check_args (&args, argc, argv))
    return CLI_EXIT_USAGE;

  return convert (&args, argv[1], argv[2]);
}

const CliCommand cli_command_convert = {
  COMMAND, "copy an image, converting its format", run,
};
