/* imgxfer-blkhash-private.h: the block hash shared by checksum users
 *
 * root = H (H (block 0) || H (block 1) || ...), as ovirt-imageio computes
 * it. This file holds the pieces: the digest algorithms, the digest of
 * one block (with the zero shortcut) and the table of block digests that
 * is combined into the root.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The largest digest of any algorithm (sha512, blake2b). */
#define IMGXFER_BLKHASH_MAX_DIGEST 64

typedef struct _ImgxferBlkhashAlgorithm ImgxferBlkhashAlgorithm;

const char *const *_imgxfer_blkhash_algorithm_names (void);
/* Fails with IMGXFER_ERROR_INVALID_ARGUMENT naming the accepted ones. */
const ImgxferBlkhashAlgorithm *_imgxfer_blkhash_algorithm_lookup (
    const char *name, GError **error);
const char *_imgxfer_blkhash_algorithm_get_name (
    const ImgxferBlkhashAlgorithm *algorithm);

/* A streaming hash, private to imgxfer-blkhash.c. */
typedef struct _ImgxferHasher ImgxferHasher;

/* TRUE when all @length bytes of @data are zero. The copy engine finds
 * zero blocks with it too. */
gboolean _imgxfer_blkhash_is_zero (const void *data, gsize length);

/* The block digests of one image of a known size. Each block's digest is
 * set exactly once, from any thread (distinct blocks need no lock); then
 * finish() combines them in order. */
typedef struct _ImgxferBlkhash ImgxferBlkhash;

/* %NULL @algorithm and 0 @block_size take the defaults of
 * imgxfer-checksum.h; the block size is 1–16 MiB, a multiple of 4096. */
ImgxferBlkhash *_imgxfer_blkhash_new (const char *algorithm,
                                      gsize block_size,
                                      guint64 size,
                                      GError **error);
void _imgxfer_blkhash_free (ImgxferBlkhash *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferBlkhash, _imgxfer_blkhash_free)

const ImgxferBlkhashAlgorithm *_imgxfer_blkhash_get_algorithm (
    ImgxferBlkhash *self);
gsize _imgxfer_blkhash_get_block_size (ImgxferBlkhash *self);
guint64 _imgxfer_blkhash_get_size (ImgxferBlkhash *self);
guint64 _imgxfer_blkhash_get_n_blocks (ImgxferBlkhash *self);
/* Bytes in @block: the block size, less for the last one. */
gsize _imgxfer_blkhash_block_length (ImgxferBlkhash *self, guint64 block);

/* Blocks @first .. @first + @count - 1 read as zeroes. */
void _imgxfer_blkhash_set_zero (ImgxferBlkhash *self,
                                guint64 first,
                                guint64 count);
/* The digest of one block whose bytes arrive in order, in pieces. While
 * every byte so far is zero nothing is hashed: a zero block then takes
 * the precomputed digest. Owned by one thread at a time. */
typedef struct
{
  const ImgxferBlkhashAlgorithm *algorithm;
  ImgxferHasher *hasher; /* created on the first non-zero piece, reused */
  gboolean started;      /* the hasher holds this block's bytes */
  guint64 length;        /* bytes of this block seen so far */
} ImgxferBlockStream;

void _imgxfer_block_stream_init (ImgxferBlockStream *self,
                                 const ImgxferBlkhashAlgorithm *algorithm);
void _imgxfer_block_stream_clear (ImgxferBlockStream *self);
/* The next @length bytes of the block; %NULL @data means zeroes. */
void _imgxfer_block_stream_update (ImgxferBlockStream *self,
                                   const void *data,
                                   gsize length);
/* Stores the digest of the block just streamed as @block's (its length
 * must be the block's length) and readies @stream for the next block. */
void _imgxfer_blkhash_set_stream (ImgxferBlkhash *self,
                                  guint64 block,
                                  ImgxferBlockStream *stream);

/* The root digest as lowercase hex. Every block must have been set. */
char *_imgxfer_blkhash_finish (ImgxferBlkhash *self);

G_END_DECLS
