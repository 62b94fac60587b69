/* imgxfer-tar-archive.h: where the members of a tar archive lie
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Tar stores a member's data in 512-byte blocks, the last one padded with
 * zeroes; a scanned archive has been checked to hold the padding of every
 * regular member, so offset..+PADDED_SIZE (size) can be read. */
#define _IMGXFER_TAR_BLOCK_SIZE 512
#define _IMGXFER_TAR_PADDED_SIZE(size)                                        \
  (((size) + _IMGXFER_TAR_BLOCK_SIZE - 1)                                     \
   & ~(guint64)(_IMGXFER_TAR_BLOCK_SIZE - 1))

/* One entry of the archive. @offset and @size locate its data in the
 * archive file; @size is meaningful for regular members only. */
typedef struct
{
  char *name;     /* in UTF-8 when libarchive could convert it */
  char *raw_name; /* the bytes of the header, when they differ */
  guint64 offset;
  guint64 size;
  gboolean regular; /* a regular file (not a directory, link, ...) */
  char *link;       /* the target of a hard or symbolic link */
  gboolean sparse;  /* stored sparse: its data is not one byte range */
} ImgxferTarMember;

/* An archive scanned once from beginning to end. Reference counted (and
 * read with pread only) so that a backend and its clones share it. */
typedef struct
{
  char *path;
  int fd;
  guint64 file_size;
  GPtrArray *members; /* ImgxferTarMember, in archive order */
} ImgxferTarArchive;

ImgxferTarArchive *_imgxfer_tar_archive_open (const char *path,
                                              GCancellable *cancellable,
                                              GError **error);
/* How many archives this process scanned (opened), for the tests. */
guint _imgxfer_tar_archive_count_scans (void);
ImgxferTarArchive *_imgxfer_tar_archive_ref (ImgxferTarArchive *archive);
void _imgxfer_tar_archive_unref (ImgxferTarArchive *archive);

/* The member called @name, which must be a regular member stored as one
 * byte range; otherwise an error naming the archive and listing the
 * members. */
const ImgxferTarMember *
_imgxfer_tar_archive_find (ImgxferTarArchive *archive,
                           const char *name,
                           GError **error);

/* Reads exactly @length bytes at @offset of the archive file. */
gboolean _imgxfer_tar_archive_pread (ImgxferTarArchive *archive,
                                     void *buffer,
                                     gsize length,
                                     guint64 offset,
                                     GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferTarArchive, _imgxfer_tar_archive_unref)

G_END_DECLS
