/* imgxfer-blkhash.c: the block hash shared by checksum users
 *
 * Compatible with ovirt-imageio's blkhash: the same H hashes each block
 * and then the concatenated block digests; blake2b and blake2s use a
 * 32-byte digest, the others their native size. A block of zeroes always
 * has the same digest, so it is computed once per (algorithm, length)
 * and zero blocks are never hashed again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <blake2.h>
#include <openssl/evp.h>
#include <string.h>

#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-blkhash-private.h"

#define MIN_BLOCK_SIZE (1024 * 1024)
#define MAX_BLOCK_SIZE (16 * 1024 * 1024)

/* libb2 and libcrypto are opened on the first checksum instead of being
 * linked: loading them (and libgomp, which libb2 brings) took about
 * 0.75 ms of every start of a program using imgxfer, and most never
 * compute a checksum. Their headers still come from the build's
 * dependencies, and __typeof__ gives each pointer the header's prototype. */
#define LIBB2_FILE "libb2.so.1"
#define LIBCRYPTO_FILE "libcrypto.so.3"

static struct
{
  __typeof__ (blake2b_init) *b2b_init;
  __typeof__ (blake2b_update) *b2b_update;
  __typeof__ (blake2b_final) *b2b_final;
  __typeof__ (blake2s_init) *b2s_init;
  __typeof__ (blake2s_update) *b2s_update;
  __typeof__ (blake2s_final) *b2s_final;
} b2;

static struct
{
  __typeof__ (EVP_MD_CTX_new) *md_ctx_new;
  __typeof__ (EVP_MD_CTX_free) *md_ctx_free;
  __typeof__ (EVP_DigestInit_ex) *digest_init;
  __typeof__ (EVP_DigestUpdate) *digest_update;
  __typeof__ (EVP_DigestFinal_ex) *digest_final;
} crypto;

/* A function to look up: @name, or @fallback if the library lacks it. */
typedef struct
{
  const char *name;
  const char *fallback;
  gpointer *address;
} Symbol;

/* libb2 0.98.1 (Debian 12) picks an SSE/AVX implementation at run time
 * that was 2-2.5x slower on this project's AVX-512 test machines than the
 * library's own portable one (blake2b: 0.55 against 1.3 GB/s; blake2s:
 * 0.25 against 0.55 GB/s), so the portable one (the _ref functions) is
 * used whenever the library exports it; the two compute the same
 * digests. */
static const Symbol b2_symbols[] = {
  { "blake2b_init_ref", "blake2b_init", (gpointer *)&b2.b2b_init },
  { "blake2b_update_ref", "blake2b_update", (gpointer *)&b2.b2b_update },
  { "blake2b_final_ref", "blake2b_final", (gpointer *)&b2.b2b_final },
  { "blake2s_init_ref", "blake2s_init", (gpointer *)&b2.b2s_init },
  { "blake2s_update_ref", "blake2s_update", (gpointer *)&b2.b2s_update },
  { "blake2s_final_ref", "blake2s_final", (gpointer *)&b2.b2s_final },
  { NULL },
};

static const Symbol crypto_symbols[] = {
  { "EVP_MD_CTX_new", NULL, (gpointer *)&crypto.md_ctx_new },
  { "EVP_MD_CTX_free", NULL, (gpointer *)&crypto.md_ctx_free },
  { "EVP_DigestInit_ex", NULL, (gpointer *)&crypto.digest_init },
  { "EVP_DigestUpdate", NULL, (gpointer *)&crypto.digest_update },
  { "EVP_DigestFinal_ex", NULL, (gpointer *)&crypto.digest_final },
  { NULL },
};

typedef struct
{
  const char *file;
  const Symbol *symbols;
  gsize loaded;
  GModule *module;
  char *error; /* why the library cannot be used */
} Library;

static Library libb2 = { LIBB2_FILE, b2_symbols };
static Library libcrypto = { LIBCRYPTO_FILE, crypto_symbols };

/* Opens @library once per process and looks its functions up. */
static gboolean
library_load (Library *library, GError **error)
{
  if (g_once_init_enter (&library->loaded))
    {
      library->module = g_module_open (library->file, G_MODULE_BIND_LOCAL);
      if (library->module == NULL)
        library->error = g_strdup (g_module_error ());
      for (const Symbol *s = library->symbols;
           library->module != NULL && s->name != NULL; s++)
        if (!g_module_symbol (library->module, s->name, s->address)
            && !(s->fallback != NULL
                 && g_module_symbol (library->module, s->fallback,
                                     s->address)))
          {
            library->error = g_strdup_printf ("%s has no %s", library->file,
                                              s->name);
            g_clear_pointer (&library->module, g_module_close);
          }
      if (library->module != NULL)
        g_module_make_resident (library->module);
      g_once_init_leave (&library->loaded, 1);
    }

  if (library->error != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "checksums need %s: %s", library->file, library->error);
      return FALSE;
    }
  return TRUE;
}

typedef enum
{
  KIND_BLAKE2B,
  KIND_BLAKE2S,
  KIND_EVP,
} HasherKind;

struct _ImgxferBlkhashAlgorithm
{
  const char *name;
  HasherKind kind;
  gsize digest_size;
  const char *evp_md; /* the libcrypto function returning the EVP_MD */
};

/* Sorted by name, as ovirt-imageio lists them. */
static const ImgxferBlkhashAlgorithm algorithms[] = {
  { "blake2b", KIND_BLAKE2B, 32, NULL },
  { "blake2s", KIND_BLAKE2S, 32, NULL },
  { "md5", KIND_EVP, 16, "EVP_md5" },
  { "sha1", KIND_EVP, 20, "EVP_sha1" },
  { "sha224", KIND_EVP, 28, "EVP_sha224" },
  { "sha256", KIND_EVP, 32, "EVP_sha256" },
  { "sha384", KIND_EVP, 48, "EVP_sha384" },
  { "sha3_224", KIND_EVP, 28, "EVP_sha3_224" },
  { "sha3_256", KIND_EVP, 32, "EVP_sha3_256" },
  { "sha3_384", KIND_EVP, 48, "EVP_sha3_384" },
  { "sha3_512", KIND_EVP, 64, "EVP_sha3_512" },
  { "sha512", KIND_EVP, 64, "EVP_sha512" },
};

static const char *const algorithm_names[] = {
  "blake2b", "blake2s", "md5", "sha1", "sha224", "sha256", "sha384",
  "sha3_224", "sha3_256", "sha3_384", "sha3_512", "sha512", NULL,
};

G_STATIC_ASSERT (G_N_ELEMENTS (algorithm_names)
                 == G_N_ELEMENTS (algorithms) + 1);

/* Zero-filled on demand by the kernel; fed to hashers in pieces. */
static const guint8 zero_buffer[1024 * 1024];

const char *const *
_imgxfer_blkhash_algorithm_names (void)
{
  return algorithm_names;
}

const ImgxferBlkhashAlgorithm *
_imgxfer_blkhash_algorithm_lookup (const char *name, GError **error)
{
  g_autofree char *accepted = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (algorithms); i++)
    if (g_strcmp0 (name, algorithms[i].name) == 0)
      return &algorithms[i];

  accepted = g_strjoinv (", ", (char **)algorithm_names);
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "unknown checksum algorithm \"%s\" (accepted: %s)",
               name ? name : "", accepted);
  return NULL;
}

const char *
_imgxfer_blkhash_algorithm_get_name (const ImgxferBlkhashAlgorithm *algorithm)
{
  return algorithm->name;
}

/* Opens the library that computes @algorithm: TRUE once its hashers can
 * be made. */
static gboolean
algorithm_load (const ImgxferBlkhashAlgorithm *algorithm, GError **error)
{
  gpointer md;

  if (algorithm->kind != KIND_EVP)
    return library_load (&libb2, error);

  if (!library_load (&libcrypto, error))
    return FALSE;
  if (!g_module_symbol (libcrypto.module, algorithm->evp_md, &md))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "checksums need %s: it has no %s", libcrypto.file,
                   algorithm->evp_md);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_block_size (gsize block_size, GError **error)
{
  if (block_size >= MIN_BLOCK_SIZE && block_size <= MAX_BLOCK_SIZE
      && block_size % 4096 == 0)
    return TRUE;

  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "invalid checksum block size %" G_GSIZE_FORMAT
               " (accepted: 1 MiB to 16 MiB, a multiple of 4096)",
               block_size);
  return FALSE;
}

/* Hasher: a streaming hash; after final() it can be started again. */

struct _ImgxferHasher
{
  const ImgxferBlkhashAlgorithm *algorithm;
  union
  {
    blake2b_state b2b;
    blake2s_state b2s;
    EVP_MD_CTX *evp;
  } u;
  const EVP_MD *evp_md;
};

static void
hasher_start (ImgxferHasher *self)
{
  switch (self->algorithm->kind)
    {
    case KIND_BLAKE2B:
      b2.b2b_init (&self->u.b2b, self->algorithm->digest_size);
      break;
    case KIND_BLAKE2S:
      b2.b2s_init (&self->u.b2s, self->algorithm->digest_size);
      break;
    case KIND_EVP:
      if (!crypto.digest_init (self->u.evp, self->evp_md, NULL))
        g_error ("Cannot start a %s digest", self->algorithm->name);
      break;
    }
}

static ImgxferHasher *
hasher_new (const ImgxferBlkhashAlgorithm *algorithm)
{
  ImgxferHasher *self = g_new0 (ImgxferHasher, 1);

  self->algorithm = algorithm;
  if (algorithm->kind == KIND_EVP)
    {
      const EVP_MD *(*md) (void) = NULL;

      /* algorithm_load() found it when the blkhash was made. */
      g_module_symbol (libcrypto.module, algorithm->evp_md, (gpointer *)&md);
      self->evp_md = md ();
      self->u.evp = crypto.md_ctx_new ();
    }
  hasher_start (self);
  return self;
}

static void
hasher_update (ImgxferHasher *self, const void *data, gsize length)
{
  switch (self->algorithm->kind)
    {
    case KIND_BLAKE2B:
      b2.b2b_update (&self->u.b2b, data, length);
      break;
    case KIND_BLAKE2S:
      b2.b2s_update (&self->u.b2s, data, length);
      break;
    case KIND_EVP:
      crypto.digest_update (self->u.evp, data, length);
      break;
    }
}

/* Feeds @length zero bytes. */
static void
hasher_update_zero (ImgxferHasher *self, guint64 length)
{
  while (length > 0)
    {
      gsize n = MIN (length, sizeof zero_buffer);

      hasher_update (self, zero_buffer, n);
      length -= n;
    }
}

/* Writes the digest to @digest and restarts the hasher. */
static void
hasher_final (ImgxferHasher *self, guint8 *digest)
{
  switch (self->algorithm->kind)
    {
    case KIND_BLAKE2B:
      b2.b2b_final (&self->u.b2b, digest, self->algorithm->digest_size);
      break;
    case KIND_BLAKE2S:
      b2.b2s_final (&self->u.b2s, digest, self->algorithm->digest_size);
      break;
    case KIND_EVP:
      crypto.digest_final (self->u.evp, digest, NULL);
      break;
    }
  hasher_start (self);
}

static void
hasher_free (ImgxferHasher *self)
{
  if (self == NULL)
    return;
  if (self->algorithm->kind == KIND_EVP)
    crypto.md_ctx_free (self->u.evp);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferHasher, hasher_free)

gboolean
_imgxfer_blkhash_is_zero (const void *data, gsize length)
{
  const guint8 *p = data;
  gsize head = MIN (length, 16);

  for (gsize i = 0; i < head; i++)
    if (p[i] != 0)
      return FALSE;

  /* The first 16 bytes are zero, so comparing the buffer with itself
   * shifted by 16 checks the rest with the C library's fast memcmp. */
  return length <= 16 || memcmp (p, p + 16, length - 16) == 0;
}

/* The digest of @length zero bytes, computed once per algorithm and
 * length for the whole process: zero blocks are by far the most common
 * ones in sparse images, and a server computes many checksums. */
static void
zero_digest (const ImgxferBlkhashAlgorithm *algorithm,
             gsize length,
             guint8 *digest)
{
  static GMutex lock;
  static GHashTable *cache;
  g_autofree char *key = g_strdup_printf ("%s:%" G_GSIZE_FORMAT,
                                          algorithm->name, length);
  const guint8 *cached;
  g_autoptr (ImgxferHasher) hasher = NULL;

  g_mutex_lock (&lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  cached = g_hash_table_lookup (cache, key);
  if (cached)
    memcpy (digest, cached, algorithm->digest_size);
  g_mutex_unlock (&lock);
  if (cached)
    return;

  hasher = hasher_new (algorithm);
  hasher_update_zero (hasher, length);
  hasher_final (hasher, digest);

  g_mutex_lock (&lock);
  /* Another thread may have filled it meanwhile, with the same digest. */
  g_hash_table_replace (cache, g_steal_pointer (&key),
                        g_memdup2 (digest, algorithm->digest_size));
  g_mutex_unlock (&lock);
}

/* Blkhash */

struct _ImgxferBlkhash
{
  const ImgxferBlkhashAlgorithm *algorithm;
  gsize block_size;
  guint64 size;
  guint64 n_blocks;
  gsize digest_size;
  guint8 *digests; /* n_blocks * digest_size */
  guint8 zero_block[IMGXFER_BLKHASH_MAX_DIGEST];
  guint8 zero_tail[IMGXFER_BLKHASH_MAX_DIGEST]; /* a short last block */
};

ImgxferBlkhash *
_imgxfer_blkhash_new (const char *algorithm,
                      gsize block_size,
                      guint64 size,
                      GError **error)
{
  const ImgxferBlkhashAlgorithm *alg;
  ImgxferBlkhash *self;

  if (algorithm == NULL)
    algorithm = IMGXFER_CHECKSUM_DEFAULT_ALGORITHM;
  if (block_size == 0)
    block_size = IMGXFER_CHECKSUM_DEFAULT_BLOCK_SIZE;

  alg = _imgxfer_blkhash_algorithm_lookup (algorithm, error);
  if (alg == NULL || !check_block_size (block_size, error)
      || !algorithm_load (alg, error))
    return NULL;

  self = g_new0 (ImgxferBlkhash, 1);
  self->algorithm = alg;
  self->block_size = block_size;
  self->size = size;
  self->n_blocks = size / block_size + (size % block_size != 0);
  self->digest_size = alg->digest_size;
  /* 8 MiB for 1 TiB in 4 MiB blocks of 32-byte digests. */
  self->digests = g_malloc (MAX (self->n_blocks, 1) * self->digest_size);
  zero_digest (alg, block_size, self->zero_block);
  if (size % block_size != 0)
    zero_digest (alg, size % block_size, self->zero_tail);
  return self;
}

void
_imgxfer_blkhash_free (ImgxferBlkhash *self)
{
  if (self == NULL)
    return;
  g_free (self->digests);
  g_free (self);
}

const ImgxferBlkhashAlgorithm *
_imgxfer_blkhash_get_algorithm (ImgxferBlkhash *self)
{
  return self->algorithm;
}

gsize
_imgxfer_blkhash_get_block_size (ImgxferBlkhash *self)
{
  return self->block_size;
}

guint64
_imgxfer_blkhash_get_size (ImgxferBlkhash *self)
{
  return self->size;
}

guint64
_imgxfer_blkhash_get_n_blocks (ImgxferBlkhash *self)
{
  return self->n_blocks;
}

gsize
_imgxfer_blkhash_block_length (ImgxferBlkhash *self, guint64 block)
{
  guint64 start = block * self->block_size;

  g_assert (block < self->n_blocks);
  return MIN (self->block_size, self->size - start);
}

static guint8 *
digest_slot (ImgxferBlkhash *self, guint64 block)
{
  g_assert (block < self->n_blocks);
  return self->digests + block * self->digest_size;
}

static const guint8 *
zero_digest_of (ImgxferBlkhash *self, guint64 block)
{
  return _imgxfer_blkhash_block_length (self, block) == self->block_size
             ? self->zero_block
             : self->zero_tail;
}

void
_imgxfer_blkhash_set_zero (ImgxferBlkhash *self, guint64 first, guint64 count)
{
  g_assert (first + count <= self->n_blocks);

  for (guint64 b = first; b < first + count; b++)
    memcpy (digest_slot (self, b), zero_digest_of (self, b),
            self->digest_size);
}

void
_imgxfer_block_stream_init (ImgxferBlockStream *self,
                            const ImgxferBlkhashAlgorithm *algorithm)
{
  self->algorithm = algorithm;
  self->hasher = NULL;
  self->started = FALSE;
  self->length = 0;
}

void
_imgxfer_block_stream_clear (ImgxferBlockStream *self)
{
  g_clear_pointer (&self->hasher, hasher_free);
}

void
_imgxfer_block_stream_update (ImgxferBlockStream *self,
                              const void *data,
                              gsize length)
{
  if (!self->started)
    {
      if (data == NULL || _imgxfer_blkhash_is_zero (data, length))
        {
          self->length += length;
          return;
        }
      /* The first non-zero byte: the zeroes before it count after all. */
      if (self->hasher == NULL)
        self->hasher = hasher_new (self->algorithm);
      hasher_update_zero (self->hasher, self->length);
      self->started = TRUE;
    }

  if (data)
    hasher_update (self->hasher, data, length);
  else
    hasher_update_zero (self->hasher, length);
  self->length += length;
}

void
_imgxfer_blkhash_set_stream (ImgxferBlkhash *self,
                             guint64 block,
                             ImgxferBlockStream *stream)
{
  g_assert (stream->algorithm == self->algorithm);
  g_assert (stream->length == _imgxfer_blkhash_block_length (self, block));

  if (stream->started)
    hasher_final (stream->hasher, digest_slot (self, block));
  else
    _imgxfer_blkhash_set_zero (self, block, 1);
  stream->started = FALSE;
  stream->length = 0;
}

char *
_imgxfer_blkhash_finish (ImgxferBlkhash *self)
{
  g_autoptr (ImgxferHasher) hasher = hasher_new (self->algorithm);
  guint8 root[IMGXFER_BLKHASH_MAX_DIGEST];
  static const char hex[] = "0123456789abcdef";
  char *text = g_malloc (self->digest_size * 2 + 1);

  if (self->n_blocks > 0)
    hasher_update (hasher, self->digests,
                            self->n_blocks * self->digest_size);
  hasher_final (hasher, root);

  for (gsize i = 0; i < self->digest_size; i++)
    {
      text[2 * i] = hex[root[i] >> 4];
      text[2 * i + 1] = hex[root[i] & 0xf];
    }
  text[self->digest_size * 2] = '\0';
  return text;
}
