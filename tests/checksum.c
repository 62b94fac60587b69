/* checksum.c: blkhash checksums, byte for byte as ovirt-imageio computes
 * them, from files, qemu formats, OVA members and incremental updates
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "drivers/memory/imgxfer-memory-backend.h"
#include "imgxfer-blkhash-private.h"
#include "imgxfer-copy-private.h"
#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* What an input of the test vectors holds. */
typedef enum
{
  INPUT_ZEROES,  /* all zeroes */
  INPUT_PATTERN, /* byte i = i % 251 */
  INPUT_DATA,    /* "data", then zeroes */
} InputKind;

typedef struct
{
  InputKind kind;
  gsize size;
  gsize block_size;
  const char *algorithm;
  const char *checksum;
} Vector;

/* The blkhash test vectors, as ovirt-imageio's algorithm computes them. */
static const Vector vectors[] = {
  { INPUT_ZEROES, 2 * MiB, 1 * MiB, "blake2b",
    "1ef6e64709c8dcf9a2bdb63de33335dcd64febdc6657a3c14ce7bd3ad50af011" },
  { INPUT_PATTERN, 3 * MiB + 123, 1 * MiB, "blake2b",
    "9a478b9bb874dbaef5510ba081a6662e123a57de078ebf4356c16d2c9b7cb58d" },
  { INPUT_PATTERN, 3 * MiB + 123, 1 * MiB, "sha1",
    "af433f3f83b9421f28d628f484d160978c1fee0c" },
  { INPUT_PATTERN, 3 * MiB + 123, 1 * MiB, "sha256",
    "a4c71b2b7dc76d4e6b5105b4973ccf175157a96b867503e531cf492576abca6c" },
  { INPUT_PATTERN, 3 * MiB + 123, 4 * MiB, "blake2b",
    "601b2e67649ddcf79e5b9d904b7b176c51667b275c41ea0268c366cc13c65a25" },
  { INPUT_ZEROES, 2 * MiB, 4 * MiB, "blake2b",
    "9003081a5d3ac5f82db5d41f3029c41972aea30fe692af27021db7116075bfd4" },
  { INPUT_DATA, 4 * MiB, 4 * MiB, "blake2b",
    "f426bb2cf1e1901fe4e87423950944ecfed6d9d18a09e6e802aa4912e1c9b2d6" },
  { INPUT_DATA, 5 * MiB, 4 * MiB, "sha1",
    "d3936edd8e3a8ff10e8257a9f460d8da67838549" },
  { INPUT_ZEROES, 0, 4 * MiB, "blake2b",
    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8" },
};

/* The other algorithms, computed with Python's hashlib as ovirt-imageio's
 * blkhash module does: 3 MiB + 123 bytes of the pattern, 1 MiB blocks. */
#define PATTERN_VECTOR(algorithm, checksum)                                   \
  { INPUT_PATTERN, 3 * MiB + 123, 1 * MiB, algorithm, checksum }
static const Vector python_vectors[] = {
  PATTERN_VECTOR ("blake2s", "1375e61aa82e51917c8b533b9e44d033887915b5f38959b9"
                             "b782fc96b87d5385"),
  PATTERN_VECTOR ("md5", "3b9e317ce4ff6f7bccf846df142c3d0d"),
  PATTERN_VECTOR ("sha224", "c3052fce4dd9d0262351c80afa304c7c6484b5792f037b03"
                            "f98a4829"),
  PATTERN_VECTOR ("sha384", "4f58b2dddd5895a32c38fc382e75db3efbc342e06cffb4d0"
                            "00116e9fc2c8e9f81c6bd3406ff0636d5af2affd6a64a14f"),
  PATTERN_VECTOR ("sha512", "7acb64c38cb941b9e7f0675c1340236c073cb73ce0588058"
                            "47fcd107620b8954d43f4946a042dd8dff1f7eed29a808db"
                            "49e7e7648a2ee133d98afb54c9fbddc3"),
  PATTERN_VECTOR ("sha3_224", "9e958b99ae1b98da76f5115a0cbfb7f052c27124b4c40c8"
                              "72f43c82e"),
  PATTERN_VECTOR ("sha3_256", "f37bb43f48b3a12598bfbf5fb100f090d3ac5d3910a019d"
                              "214dd7e6edfecaf66"),
  PATTERN_VECTOR ("sha3_384", "94351d6773792c7595adab4662a7c357725d9f1622b977e"
                              "5c113a947f2890e7a0fc55d3c4f29119c9ebd76504d5654"
                              "23"),
  PATTERN_VECTOR ("sha3_512", "97e30cb2b20dac8f80504469dfbee9788b2f501f3964dd0"
                              "45412022e577fadd03a2448bb46b7da401553c76bc4ce89"
                              "f6bf6e30319ed0da706e9a59a99c721162"),
};

static char *checksum_incremental (const Vector *v, const guint8 *data,
                                   gsize piece, gboolean reverse,
                                   gboolean use_zero);
static char *file_checksum (const Vector *v, const guint8 *data);

/* 3 MiB + 123 bytes of the pattern in a file, seen as 3 MiB + 512 bytes:
 * blake2b, 4 MiB blocks, computed with Python's hashlib. */
#define PATTERN_FILE_CHECKSUM                                                 \
  "ba7b985cf829ee6b4aa04fa4222ac6d02134c9c83cae79c819334cd31ed281d8"

static guint8 *
make_input (InputKind kind, gsize size)
{
  guint8 *data = g_malloc0 (MAX (size, 1));

  if (kind == INPUT_PATTERN)
    for (gsize i = 0; i < size; i++)
      data[i] = i % 251;
  else if (kind == INPUT_DATA)
    memcpy (data, "data", MIN (size, 4));
  return data;
}

/* Writes @data as a file: sparse (only its non-zero 4 KiB pieces
 * written) or fully allocated. */
static char *
write_image (const char *dir,
             const char *name,
             const guint8 *data,
             gsize size,
             gboolean sparse)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  if (!sparse)
    {
      g_file_set_contents (path, (const char *)data, size, &error);
      g_assert_no_error (error);
      return path;
    }

  test_create_sparse (path, size);
  for (gsize offset = 0; offset < size; offset += 4 * KiB)
    {
      gsize n = MIN (4 * KiB, size - offset);
      int fd;

      if (_imgxfer_blkhash_is_zero (data + offset, n))
        continue;
      fd = g_open (path, O_WRONLY, 0);
      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (pwrite (fd, data + offset, n, offset), ==, (gssize)n);
      g_assert_cmpint (close (fd), ==, 0);
    }
  return path;
}

static char *
checksum_url (const char *url,
              ImgxferOpenOptions *options,
              const char *algorithm,
              gsize block_size,
              guint threads)
{
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GError) error = NULL;
  char *checksum;

  source = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  checksum = imgxfer_checksum_compute (source, algorithm, block_size,
                                       threads, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (checksum);
  return checksum;
}

static char *
checksum_raw (const char *path,
              const char *algorithm,
              gsize block_size,
              guint threads)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_format (options, "raw");
  return checksum_url (path, options, algorithm, block_size, threads);
}

static void
test_vectors_files (void)
{
  char *dir = test_tmpdir_new ();

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      const Vector *v = &vectors[i];
      g_autofree guint8 *data = make_input (v->kind, v->size);

      for (int sparse = 0; sparse <= 1; sparse++)
        {
          g_autofree char *path
              = write_image (dir, sparse ? "sparse" : "full", data, v->size,
                             sparse);
          const guint threads[] = { 1, 2, 4, 0 };
          g_autofree char *expected = file_checksum (v, data);

          for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
            {
              g_autofree char *sum = checksum_raw (path, v->algorithm,
                                                   v->block_size, threads[t]);

              g_test_message ("vector %u, %s, %u threads", i,
                              sparse ? "sparse" : "full", threads[t]);
              g_assert_cmpstr (sum, ==, expected);
            }
        }
    }
  test_tmpdir_free (dir);
}

static void
test_vectors_python (void)
{
  char *dir = test_tmpdir_new ();
  const Vector *first = &python_vectors[0];
  g_autofree guint8 *data = make_input (first->kind, first->size);
  g_autofree char *path = write_image (dir, "img", data, first->size, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (python_vectors); i++)
    {
      const Vector *v = &python_vectors[i];
      g_autofree char *sum = checksum_raw (path, v->algorithm, v->block_size,
                                           2);
      g_autofree char *exact = checksum_incremental (v, data, MiB, FALSE,
                                                     FALSE);
      g_autofree char *expected = file_checksum (v, data);

      g_test_message ("%s", v->algorithm);
      g_assert_cmpstr (exact, ==, v->checksum);
      g_assert_cmpstr (sum, ==, expected);
    }
  test_tmpdir_free (dir);
}

/* The default algorithm and block size are blake2b and 4 MiB. */
static void
test_defaults (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree guint8 *data = make_input (INPUT_PATTERN, 3 * MiB + 123);
  g_autofree char *path = write_image (dir, "img", data, 3 * MiB + 123, FALSE);
  g_autofree char *sum = checksum_raw (path, NULL, 0, 0);
  g_autofree char *expected = file_checksum (&vectors[4], data);

  g_assert_cmpstr (sum, ==, PATTERN_FILE_CHECKSUM);
  g_assert_cmpstr (expected, ==, PATTERN_FILE_CHECKSUM);
  test_tmpdir_free (dir);
}

/* Feeds @data to an ImgxferChecksum in pieces of @piece bytes, in the
 * order given by @reverse, zero pieces through update_zero() when
 * @use_zero. */
static char *
checksum_incremental (const Vector *v,
                      const guint8 *data,
                      gsize piece,
                      gboolean reverse,
                      gboolean use_zero)
{
  g_autoptr (ImgxferChecksum) checksum = NULL;
  g_autoptr (GError) error = NULL;
  gsize n_pieces = (v->size + piece - 1) / piece;
  char *result;

  checksum = imgxfer_checksum_new (v->algorithm, v->block_size, v->size,
                                   &error);
  g_assert_no_error (error);
  g_assert_cmpstr (imgxfer_checksum_get_algorithm (checksum), ==,
                   v->algorithm);
  g_assert_cmpuint (imgxfer_checksum_get_block_size (checksum), ==,
                    v->block_size);
  g_assert_cmpuint (imgxfer_checksum_get_size (checksum), ==, v->size);

  for (gsize k = 0; k < n_pieces; k++)
    {
      gsize i = reverse ? n_pieces - 1 - k : k;
      gsize offset = i * piece;
      gsize n = MIN (piece, v->size - offset);

      if (use_zero && _imgxfer_blkhash_is_zero (data + offset, n))
        imgxfer_checksum_update_zero (checksum, offset, n);
      else
        imgxfer_checksum_update (checksum, offset, data + offset, n);
    }

  result = imgxfer_checksum_finish (checksum, &error);
  g_assert_no_error (error);
  return result;
}

/* A raw file is seen at its size rounded up to 512 bytes, the tail
 * reading as zeroes, as qemu and imageio's client see it: what a file
 * holding @v's input checksums to, by the incremental API (which the
 * vectors check) over the input so padded. */
static char *
file_checksum (const Vector *v, const guint8 *data)
{
  Vector padded = *v;
  g_autofree guint8 *padded_data = NULL;

  padded.size = (v->size + 511) & ~(gsize)511;
  if (padded.size == v->size)
    return g_strdup (v->checksum);
  padded_data = g_malloc0 (padded.size);
  memcpy (padded_data, data, v->size);
  return checksum_incremental (&padded, padded_data, MiB, FALSE, FALSE);
}

static void
test_vectors_incremental (void)
{
  const gsize pieces[] = { 4 * KiB, 64 * KiB + 1, 1 * MiB, 4 * MiB,
                           16 * MiB };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      const Vector *v = &vectors[i];
      g_autofree guint8 *data = make_input (v->kind, v->size);

      for (guint p = 0; p < G_N_ELEMENTS (pieces); p++)
        for (int reverse = 0; reverse <= 1; reverse++)
          for (int use_zero = 0; use_zero <= 1; use_zero++)
            {
              g_autofree char *sum = checksum_incremental (
                  v, data, pieces[p], reverse, use_zero);

              g_test_message ("vector %u, pieces of %zu%s%s", i, pieces[p],
                              reverse ? ", reversed" : "",
                              use_zero ? ", zeroes as zero" : "");
              g_assert_cmpstr (sum, ==, v->checksum);
            }
    }
}

typedef struct
{
  ImgxferChecksum *checksum;
  const guint8 *data;
  gsize size;
  gsize piece;
  gint next; /* atomic: next piece to give */
} Feeder;

static gpointer
feed_thread (gpointer user_data)
{
  Feeder *f = user_data;
  gsize n_pieces = (f->size + f->piece - 1) / f->piece;

  for (;;)
    {
      gsize i = g_atomic_int_add (&f->next, 1);
      gsize offset = i * f->piece;

      if (i >= n_pieces)
        return NULL;
      imgxfer_checksum_update (f->checksum, offset, f->data + offset,
                               MIN (f->piece, f->size - offset));
    }
}

/* Several threads give interleaved pieces of the same blocks: pieces of
 * one block arrive out of order and concurrently. */
static void
test_incremental_threads (void)
{
  const Vector *v = &vectors[1];
  g_autofree guint8 *data = make_input (v->kind, v->size);
  g_autoptr (GError) error = NULL;
  g_autofree char *sum = NULL;
  Feeder f = { 0 };
  GThread *threads[4];

  f.checksum = imgxfer_checksum_new (v->algorithm, v->block_size, v->size,
                                     &error);
  g_assert_no_error (error);
  f.data = data;
  f.size = v->size;
  f.piece = 8 * KiB + 13;
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("feeder", feed_thread, &f);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  sum = imgxfer_checksum_finish (f.checksum, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sum, ==, v->checksum);
  imgxfer_checksum_unref (f.checksum);
}

static void
assert_finish_fails (ImgxferChecksum *checksum, const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sum = imgxfer_checksum_finish (checksum, &error);

  g_assert_null (sum);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, words));
}

/* A checksum of an image that was not given whole, or given twice, or
 * beyond its end, is an error, never a wrong checksum. */
static void
test_incremental_misuse (void)
{
  g_autofree guint8 *data = g_malloc0 (3 * MiB);
  g_autoptr (ImgxferChecksum) missing = NULL;
  g_autoptr (ImgxferChecksum) twice = NULL;
  g_autoptr (ImgxferChecksum) overlap = NULL;
  g_autoptr (ImgxferChecksum) beyond = NULL;
  g_autoptr (ImgxferChecksum) after = NULL;
  g_autofree char *sum = NULL;

  data[0] = 1;
  missing = imgxfer_checksum_new ("sha1", MiB, 3 * MiB, NULL);
  imgxfer_checksum_update (missing, 0, data, 2 * MiB);
  imgxfer_checksum_update (missing, 2 * MiB, data, MiB - 1);
  assert_finish_fails (missing, "offset 2097152 was not given");

  twice = imgxfer_checksum_new ("sha1", MiB, 3 * MiB, NULL);
  imgxfer_checksum_update (twice, 0, data, 3 * MiB);
  imgxfer_checksum_update_zero (twice, MiB, MiB);
  assert_finish_fails (twice, "given twice");

  overlap = imgxfer_checksum_new ("sha1", MiB, 3 * MiB, NULL);
  imgxfer_checksum_update (overlap, 0, data, 100);
  imgxfer_checksum_update (overlap, 50, data, 100);
  assert_finish_fails (overlap, "overlaps");

  beyond = imgxfer_checksum_new ("sha1", MiB, 3 * MiB, NULL);
  imgxfer_checksum_update (beyond, 0, data, 3 * MiB);
  imgxfer_checksum_update_zero (beyond, 3 * MiB, 1);
  assert_finish_fails (beyond, "beyond the end");

  after = imgxfer_checksum_new ("sha1", MiB, 3 * MiB, NULL);
  imgxfer_checksum_update (after, 0, data, 3 * MiB);
  sum = imgxfer_checksum_finish (after, NULL);
  g_assert_nonnull (sum);
  imgxfer_checksum_update (after, 0, data, 1);
  assert_finish_fails (after, "after finish");
}

/* Reference blkhash with GLib's own digests, independent of OpenSSL. */
static char *
reference_checksum (GChecksumType type,
                    const guint8 *data,
                    gsize size,
                    gsize block_size)
{
  g_autoptr (GChecksum) root = g_checksum_new (type);
  gsize digest_size = g_checksum_type_get_length (type);
  g_autofree guint8 *digest = g_malloc (digest_size);

  for (gsize offset = 0; offset < size; offset += block_size)
    {
      g_autoptr (GChecksum) block = g_checksum_new (type);
      gsize n = digest_size;

      g_checksum_update (block, data + offset, MIN (block_size,
                                                    size - offset));
      g_checksum_get_digest (block, digest, &n);
      g_checksum_update (root, digest, n);
    }
  return g_strdup (g_checksum_get_string (root));
}

/* Every algorithm gives a digest of its size; those GLib knows agree with
 * GLib's, with zero blocks (hashed through the shortcut) and a short tail. */
static void
test_algorithms (void)
{
  static const struct
  {
    const char *name;
    gsize digest_size;
    int glib; /* GChecksumType + 1, 0 for none */
  } algorithms[] = {
    { "blake2b", 32, 0 },
    { "blake2s", 32, 0 },
    { "md5", 16, G_CHECKSUM_MD5 + 1 },
    { "sha1", 20, G_CHECKSUM_SHA1 + 1 },
    { "sha224", 28, 0 },
    { "sha256", 32, G_CHECKSUM_SHA256 + 1 },
    { "sha384", 48, G_CHECKSUM_SHA384 + 1 },
    { "sha3_224", 28, 0 },
    { "sha3_256", 32, 0 },
    { "sha3_384", 48, 0 },
    { "sha3_512", 64, 0 },
    { "sha512", 64, G_CHECKSUM_SHA512 + 1 },
  };
  const char *const *names = imgxfer_checksum_list_algorithms ();
  char *dir = test_tmpdir_new ();
  gsize size = 5 * MiB + 4097;
  /* The file is seen at its size rounded up to 512, the rest zeroes. */
  gsize seen = 5 * MiB + 4608;
  g_autofree guint8 *data = make_input (INPUT_PATTERN, seen);
  g_autofree char *path = NULL;

  g_assert_cmpuint (g_strv_length ((char **)names), ==,
                    G_N_ELEMENTS (algorithms));
  /* A zero block in the middle and zeroes in the tail. */
  memset (data + MiB, 0, MiB);
  memset (data + 5 * MiB + 1, 0, seen - 5 * MiB - 1);
  path = write_image (dir, "img", data, size, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (algorithms); i++)
    {
      g_autofree char *sum = NULL;

      g_assert_cmpstr (names[i], ==, algorithms[i].name);
      sum = checksum_raw (path, algorithms[i].name, MiB, 2);
      g_assert_cmpuint (strlen (sum), ==, 2 * algorithms[i].digest_size);
      if (algorithms[i].glib)
        {
          g_autofree char *expected = reference_checksum (
              algorithms[i].glib - 1, data, seen, MiB);

          g_assert_cmpstr (sum, ==, expected);
        }
    }
  test_tmpdir_free (dir);
}

static void
test_bad_arguments (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "img", NULL);
  g_autoptr (ImgxferBackend) source = NULL;
  const gsize bad_sizes[] = { 4096, MiB - 4096, MiB + 512, 32 * MiB };

  test_create_sparse (path, MiB);
  source = test_open (path, FALSE);

  {
    g_autoptr (GError) error = NULL;
    g_autofree char *sum = imgxfer_checksum_compute (source, "crc32", 0, 0,
                                                     NULL, &error);
    g_assert_null (sum);
    g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "crc32"));
    g_assert_nonnull (strstr (error->message, "blake2b, blake2s, md5"));
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad_sizes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *sum = imgxfer_checksum_compute (
          source, NULL, bad_sizes[i], 0, NULL, &error);
      g_autoptr (ImgxferChecksum) checksum = NULL;

      g_assert_null (sum);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "1 MiB to 16 MiB"));
      g_clear_error (&error);

      checksum = imgxfer_checksum_new (NULL, bad_sizes[i], MiB, &error);
      g_assert_null (checksum);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
    }
  test_tmpdir_free (dir);
}

/* A cancelled checksum fails as cancelled. */
static void
test_cancelled (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "img", NULL);
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *sum = NULL;

  test_create_sparse (path, 8 * MiB);
  test_write_pattern (path, 0, 8 * MiB, 'x');
  source = test_open (path, FALSE);
  g_cancellable_cancel (cancellable);
  sum = imgxfer_checksum_compute (source, NULL, 0, 2, cancellable, &error);
  g_assert_null (sum);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  test_tmpdir_free (dir);
}

static gboolean
have_driver (const char *name)
{
  if (imgxfer_driver_lookup_name (name) != G_TYPE_INVALID)
    return TRUE;
  g_test_skip_printf ("no %s driver", name);
  return FALSE;
}

static gboolean
have_format_driver (const char *format)
{
  if (imgxfer_driver_lookup_format (format) != G_TYPE_INVALID)
    return TRUE;
  g_test_skip_printf ("no driver for %s", format);
  return FALSE;
}

/* imageio's test_checksum image: 2 MiB with one 64 KiB cluster of "x";
 * converted to @fmt. Returns the raw file's path in @raw_path. */
static char *
make_imageio_image (const char *dir,
                 const char *fmt,
                 gboolean compressed,
                 char **raw_path)
{
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  char *img = g_build_filename (dir, "img", NULL);
  const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", fmt,
                         tmp, img, compressed ? "-c" : NULL, NULL };

  test_create_sparse (tmp, 2 * MiB);
  test_write_pattern (tmp, 0, 64 * KiB, 'x');
  test_run_ok (argv);
  *raw_path = g_steal_pointer (&tmp);
  return img;
}

static void
check_imageio_checksum (const char *fmt, gboolean compressed, gboolean ova)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *raw = NULL;
  g_autofree char *img = make_imageio_image (dir, fmt, compressed, &raw);
  g_autofree char *expected = checksum_raw (raw, NULL, MiB, 1);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autofree char *actual = NULL;
  g_autofree char *url = NULL;

  if (ova)
    {
      const char *paths[] = { img, NULL };
      const char *names[] = { "img", NULL };
      guint64 offset, size;

      url = g_build_filename (dir, "vm.ova", NULL);
      test_create_ova (url, paths, names, &offset, &size);
      imgxfer_open_options_set_member (options, "img");
    }
  else
    url = g_strdup (img);

  /* The format is probed, as ovirt-imageio's client does. */
  actual = checksum_url (url, options, NULL, MiB, 0);
  g_assert_cmpstr (actual, ==, expected);

  /* The same through the command line. */
  {
    const char *args[] = { "checksum", "--block-size=1M", url,
                           ova ? "--member" : NULL, "img", NULL };
    g_autofree char *out = NULL;
    g_autofree char *line = g_strdup_printf ("%s  %s\n", expected, url);

    g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
    g_assert_cmpstr (out, ==, line);
  }
  test_tmpdir_free (dir);
}

static void
test_imageio_raw (void)
{
  check_imageio_checksum ("raw", FALSE, FALSE);
}

static void
test_imageio_qcow2 (void)
{
  if (have_format_driver ("qcow2"))
    check_imageio_checksum ("qcow2", FALSE, FALSE);
}

static void
test_imageio_qcow2_compressed (void)
{
  if (have_format_driver ("qcow2"))
    check_imageio_checksum ("qcow2", TRUE, FALSE);
}

static void
test_imageio_ova_raw (void)
{
  if (have_driver ("tar"))
    check_imageio_checksum ("raw", FALSE, TRUE);
}

static void
test_imageio_ova_qcow2 (void)
{
  if (have_driver ("tar") && have_format_driver ("qcow2"))
    check_imageio_checksum ("qcow2", FALSE, TRUE);
}

static void
test_imageio_ova_qcow2_compressed (void)
{
  if (have_driver ("tar") && have_format_driver ("qcow2"))
    check_imageio_checksum ("qcow2", TRUE, TRUE);
}

/* imageio's test_checksum image served as qcow2 by qemu-nbd, read over NBD with
 * several connections: the checksum of the guest data, as from the raw
 * file. */
static void
test_imageio_nbd (void)
{
  char *dir = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *img = NULL;
  g_autofree char *socket = NULL;
  g_autofree char *expected = NULL;
  g_autoptr (TestServer) server = NULL;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  if (!have_driver ("nbd"))
    return;

  dir = test_tmpdir_new ();
  img = make_imageio_image (dir, "qcow2", FALSE, &raw);
  socket = g_build_filename (dir, "nbd.sock", NULL);
  expected = checksum_raw (raw, NULL, MiB, 1);
  {
    g_autofree char *actual = NULL;

    server = test_qemu_nbd_start (img, "qcow2", socket);
    actual = checksum_url (test_server_get_uri (server), options, NULL, MiB,
                           4);
    g_assert_cmpstr (actual, ==, expected);
  }
  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (dir);
}

/* imageio's test_checksum_algorithm: an empty 2 MiB raw image made by
 * qemu-img, blake2b/32 and sha1, against the reference. */
static void
test_imageio_algorithm (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *img = g_build_filename (dir, "img", NULL);
  g_autofree guint8 *zeroes = g_malloc0 (2 * MiB);
  g_autofree char *sha1 = NULL;
  g_autofree char *expected_sha1
      = reference_checksum (G_CHECKSUM_SHA1, zeroes, 2 * MiB, MiB);
  g_autofree char *blake2b = NULL;

  test_qemu_img_create (img, "raw", "2m", NULL, NULL);
  blake2b = checksum_raw (img, "blake2b", MiB, 0);
  g_assert_cmpstr (blake2b, ==, vectors[0].checksum);
  sha1 = checksum_raw (img, "sha1", MiB, 0);
  g_assert_cmpstr (sha1, ==, expected_sha1);
  test_tmpdir_free (dir);
}

/* Through the memory driver: one connection shared by several threads,
 * no extents and small requests; then a read error fails the checksum. */
static void
test_memory_one_connection (void)
{
  const Vector *v = &vectors[1];
  g_autofree guint8 *data = make_input (v->kind, v->size);
  g_autofree char *url = NULL;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) image = NULL;
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (GError) error = NULL;
  const char *queries[] = { "max-connections=1&max-block=64k",
                            "extents=no", "max-connections=2&extents=no" };

  for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
    {
      g_autofree char *sum = NULL;

      g_free (url);
      url = g_strdup_printf ("memory:checksum-%u?size=%zu&%s", q, v->size,
                             queries[q]);
      imgxfer_open_options_set_writable (options, TRUE);
      g_clear_object (&image);
      image = imgxfer_open (url, options, NULL, &error);
      g_assert_no_error (error);
      for (gsize offset = 0; offset < v->size; offset += 64 * KiB)
        {
          imgxfer_destination_pwrite (IMGXFER_DESTINATION (image),
                                      data + offset,
                                      MIN (64 * KiB, v->size - offset),
                                      offset, NULL, &error);
          g_assert_no_error (error);
        }
      imgxfer_open_options_set_writable (options, FALSE);
      sum = checksum_url (url, options, v->algorithm, v->block_size, 4);
      g_assert_cmpstr (sum, ==, v->checksum);
    }

  /* The image is still held by @image; fail its 3rd read from now. */
  source = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  imgxfer_memory_backend_fail_nth (IMGXFER_MEMORY_BACKEND (source),
                                   IMGXFER_MEMORY_OP_READ, 3);
  {
    g_autofree char *sum = imgxfer_checksum_compute (source, v->algorithm,
                                                     v->block_size, 2, NULL,
                                                     &error);
    g_assert_null (sum);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  }
}

/* Zero extents are never read: a 1 TiB image with one 4 KiB piece of
 * data costs one read, and its checksum is the one the incremental API
 * gives for the same content. */
static void
test_zero_extents_not_read (void)
{
  const guint64 size = G_GUINT64_CONSTANT (1) << 40;
  const guint64 offset = (G_GUINT64_CONSTANT (512) << 30) + 8 * KiB;
  g_autofree guint8 *data = make_input (INPUT_PATTERN, 4 * KiB);
  g_autofree char *url = g_strdup_printf ("memory:?size=%" G_GUINT64_FORMAT,
                                          size);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) image = NULL;
  g_autoptr (ImgxferChecksum) expected = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *sum = NULL;
  g_autofree char *expected_sum = NULL;
  guint64 reads;

  imgxfer_open_options_set_writable (options, TRUE);
  image = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  imgxfer_destination_pwrite (IMGXFER_DESTINATION (image), data, 4 * KiB,
                              offset, NULL, &error);
  g_assert_no_error (error);

  reads = imgxfer_memory_backend_get_count (IMGXFER_MEMORY_BACKEND (image),
                                            IMGXFER_MEMORY_OP_READ);
  sum = imgxfer_checksum_compute (image, NULL, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_memory_backend_get_count (
                        IMGXFER_MEMORY_BACKEND (image), IMGXFER_MEMORY_OP_READ)
                        - reads,
                    ==, 1);

  expected = imgxfer_checksum_new (NULL, 0, size, &error);
  g_assert_no_error (error);
  imgxfer_checksum_update_zero (expected, 0, offset);
  imgxfer_checksum_update (expected, offset, data, 4 * KiB);
  imgxfer_checksum_update_zero (expected, offset + 4 * KiB,
                                size - offset - 4 * KiB);
  expected_sum = imgxfer_checksum_finish (expected, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sum, ==, expected_sum);
}

/* The checksum a copy computes as it goes is the checksum of what it
 * wrote: pieces of blocks come from several workers, out of order, when
 * the work units are not aligned to the checksum's blocks. */
static void
check_copy_checksum (const char *source_format, guint64 unit_size)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *raw = g_build_filename (dir, "src.raw", NULL);
  g_autofree char *src = g_build_filename (dir, "src.img", NULL);
  g_autofree char *dst = g_build_filename (dir, "dst.raw", NULL);
  const guint64 size = 9 * MiB + 100;
  guint64 virtual_size;
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) source = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;
  g_autoptr (ImgxferCopy) copy = NULL;
  g_autoptr (ImgxferChecksum) checksum = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *during = NULL;
  g_autofree char *after = NULL;
  g_autofree char *of_source = NULL;

  /* Data across block boundaries, a zero block, data in the tail. */
  test_create_sparse (raw, size);
  test_write_pattern (raw, 100 * KiB, 1 * MiB + 3 * KiB, 'a');
  test_write_pattern (raw, 3 * MiB - 4 * KiB, 12 * KiB, 'b');
  test_write_pattern (raw, 5 * MiB, 1 * MiB, 0);
  test_write_pattern (raw, 7 * MiB + 512 * KiB, 1 * MiB, 'c');
  test_write_pattern (raw, size - 50, 50, 'd');
  if (g_str_equal (source_format, "raw"))
    {
      g_free (src);
      src = g_strdup (raw);
    }
  else
    {
      const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O",
                             source_format, raw, src, NULL };
      test_run_ok (argv);
    }

  imgxfer_open_options_set_format (options, source_format);
  source = imgxfer_open (src, options, NULL, &error);
  g_assert_no_error (error);
  /* qemu rounds the virtual size up to 512 bytes. */
  virtual_size = imgxfer_backend_get_size (source);
  destination = imgxfer_create (dst, "raw", virtual_size, NULL, NULL, NULL,
                                NULL, &error);
  g_assert_no_error (error);
  checksum = imgxfer_checksum_new ("blake2b", MiB, virtual_size, &error);
  g_assert_no_error (error);

  copy = imgxfer_copy_new (source, destination);
  imgxfer_copy_set_connections (copy, 4);
  imgxfer_copy_set_request_size (copy, 64 * KiB);
  _imgxfer_copy_set_unit_size (copy, unit_size);
  imgxfer_copy_set_checksum (copy, checksum);
  imgxfer_copy_run (copy, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&copy);
  g_clear_object (&destination);

  during = imgxfer_checksum_finish (checksum, &error);
  g_assert_no_error (error);
  after = checksum_raw (dst, "blake2b", MiB, 0);
  of_source = imgxfer_checksum_compute (source, "blake2b", MiB, 1, NULL,
                                        &error);
  g_assert_no_error (error);
  g_assert_cmpstr (during, ==, after);
  g_assert_cmpstr (during, ==, of_source);
  test_tmpdir_free (dir);
}

static void
test_copy_raw (void)
{
  check_copy_checksum ("raw", 1 * MiB);
  check_copy_checksum ("raw", 192 * KiB);
}

static void
test_copy_qcow2 (void)
{
  if (!have_format_driver ("qcow2"))
    return;
  check_copy_checksum ("qcow2", 1 * MiB);
  check_copy_checksum ("qcow2", 192 * KiB);
}

static char *
cli_checksum (const char *const *args, int expected_status)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = test_run_cli (args, &out, &err);

  if (status != expected_status)
    g_error ("imgxfer checksum: exit %d, expected %d: %s", status,
             expected_status, err);
  return expected_status == 0 ? g_steal_pointer (&out)
                              : g_steal_pointer (&err);
}

static void
test_cli (void)
{
  char *dir = test_tmpdir_new ();
  const Vector *v = &vectors[3];
  g_autofree guint8 *data = make_input (v->kind, v->size);
  g_autofree char *path = write_image (dir, "img", data, v->size, FALSE);
  g_autofree char *file_sum = file_checksum (v, data);
  g_autofree char *expected = g_strdup_printf ("%s  %s\n", file_sum, path);
  JsonObject *object;

  {
    const char *args[] = { "checksum", "-a", "sha256", "--block-size", "1M",
                           path, NULL };
    g_autofree char *out = cli_checksum (args, 0);
    g_assert_cmpstr (out, ==, expected);
  }
  {
    const char *args[] = { "checksum", "--algorithm=sha256", "-b", "1m",
                           "-f", "raw", "--output=json", path, NULL };
    g_autofree char *out = cli_checksum (args, 0);
    g_autoptr (JsonNode) root = test_parse_json (out);

    object = json_node_get_object (root);
    g_assert_cmpstr (json_object_get_string_member (object, "algorithm"), ==,
                     "sha256");
    g_assert_cmpint (json_object_get_int_member (object, "block_size"), ==,
                     MiB);
    g_assert_cmpstr (json_object_get_string_member (object, "checksum"), ==,
                     file_sum);
  }
  {
    const char *args[] = { "checksum", "--output=json", path, NULL };
    g_autofree char *out = cli_checksum (args, 0);
    g_autoptr (JsonNode) root = test_parse_json (out);

    object = json_node_get_object (root);
    g_assert_cmpstr (json_object_get_string_member (object, "algorithm"), ==,
                     "blake2b");
    g_assert_cmpint (json_object_get_int_member (object, "block_size"), ==,
                     4 * MiB);
    g_assert_cmpstr (json_object_get_string_member (object, "checksum"), ==,
                     PATTERN_FILE_CHECKSUM);
  }
  {
    const char *args[] = { "checksum", "--list-algorithms", NULL };
    g_autofree char *out = cli_checksum (args, 0);
    g_autofree char *joined = g_strjoinv (
        "\n", (char **)imgxfer_checksum_list_algorithms ());
    g_autofree char *lines = g_strconcat (joined, "\n", NULL);

    g_assert_cmpstr (out, ==, lines);
  }
  {
    const char *args[] = { "checksum", "--list-algorithms", "--output=json",
                           NULL };
    g_autofree char *out = cli_checksum (args, 0);
    g_autoptr (JsonNode) root = test_parse_json (out);

    object = json_node_get_object (root);
    g_assert_cmpuint (
        json_array_get_length (json_object_get_array_member (object,
                                                             "algorithms")),
        ==, g_strv_length ((char **)imgxfer_checksum_list_algorithms ()));
  }
  {
    const char *args[] = { "checksum", "-a", "crc32", path, NULL };
    g_autofree char *err = cli_checksum (args, 2);
    g_assert_nonnull (strstr (err, "crc32"));
    g_assert_nonnull (strstr (err, "sha256"));
  }
  {
    const char *args[] = { "checksum", "-b", "512k", path, NULL };
    g_autofree char *err = cli_checksum (args, 2);
    g_assert_nonnull (strstr (err, "1 MiB to 16 MiB"));
  }
  {
    const char *args[] = { "checksum", NULL };
    g_autofree char *err = cli_checksum (args, 2);
  }
  {
    g_autofree char *missing = g_build_filename (dir, "missing", NULL);
    const char *args[] = { "checksum", missing, NULL };
    g_autofree char *err = cli_checksum (args, 1);
    g_assert_nonnull (strstr (err, missing));
  }
  test_tmpdir_free (dir);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/checksum/vectors/files", test_vectors_files);
  g_test_add_func ("/checksum/vectors/incremental", test_vectors_incremental);
  g_test_add_func ("/checksum/vectors/python", test_vectors_python);
  g_test_add_func ("/checksum/defaults", test_defaults);
  g_test_add_func ("/checksum/incremental/threads", test_incremental_threads);
  g_test_add_func ("/checksum/incremental/misuse", test_incremental_misuse);
  g_test_add_func ("/checksum/algorithms", test_algorithms);
  g_test_add_func ("/checksum/bad-arguments", test_bad_arguments);
  g_test_add_func ("/checksum/cancelled", test_cancelled);
  g_test_add_func ("/checksum/imageio/raw", test_imageio_raw);
  g_test_add_func ("/checksum/imageio/qcow2", test_imageio_qcow2);
  g_test_add_func ("/checksum/imageio/qcow2-compressed",
                   test_imageio_qcow2_compressed);
  g_test_add_func ("/checksum/imageio/ova-raw", test_imageio_ova_raw);
  g_test_add_func ("/checksum/imageio/ova-qcow2", test_imageio_ova_qcow2);
  g_test_add_func ("/checksum/imageio/ova-qcow2-compressed",
                   test_imageio_ova_qcow2_compressed);
  g_test_add_func ("/checksum/imageio/nbd", test_imageio_nbd);
  g_test_add_func ("/checksum/imageio/algorithm", test_imageio_algorithm);
  g_test_add_func ("/checksum/memory/one-connection",
                   test_memory_one_connection);
  g_test_add_func ("/checksum/memory/zero-extents-not-read",
                   test_zero_extents_not_read);
  g_test_add_func ("/checksum/copy/raw", test_copy_raw);
  g_test_add_func ("/checksum/copy/qcow2", test_copy_qcow2);
  g_test_add_func ("/checksum/cli", test_cli);

  status = g_test_run ();

  /* Every qemu-nbd (our own server, and the qemu driver's) is gone. */
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
  return status;
}
