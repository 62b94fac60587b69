/* imgxfer-local-io.h: opening, reading and writing local files, for the
 * drivers that serve bytes of local files (file, tar) and the qcow2 writer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Sets @error to "PATH: WHAT at offset N failed: STRERROR" with the
 * G_IO_ERROR code of @saved_errno. Returns FALSE. */
gboolean _imgxfer_set_errno_error (GError **error,
                                   int saved_errno,
                                   const char *path,
                                   const char *what,
                                   guint64 offset);

/* The file that @url names: a path, or a file: URL (imgxfer_url_parse()),
 * so that an image a format driver creates is the one the file driver
 * opens afterwards. Other URLs are IMGXFER_ERROR_NOT_SUPPORTED: "only
 * local images can be created". */
char *_imgxfer_local_path_for_create (const char *url, GError **error);

/* open (@path, @flags), or -1 with an error naming @path; with O_DIRECT
 * in @flags the error says when the file system refuses direct I/O. */
int _imgxfer_local_open (const char *path, int flags, GError **error);

/* Reads (or, when @writing, writes) all of @length bytes at @offset of
 * @fd, going on after interrupted or partial transfers. Reading past the
 * end of the file is IMGXFER_ERROR_SHORT_READ. */
gboolean _imgxfer_local_pio (int fd,
                             const char *path,
                             gboolean writing,
                             void *buffer,
                             gsize length,
                             guint64 offset,
                             GError **error);

/* A raw image (a file, an archive member) is seen at its size rounded up
 * to whole 512-byte sectors, the tail reading as zeroes, as qemu and
 * imageio's client see it: every command then sees one size, and a raw
 * image's checksum equals that of the same data in any other format. */
#define IMGXFER_SECTOR_SIZE 512
guint64 _imgxfer_sector_round_up (guint64 size);

/* Of a read of @length bytes at @offset of an image whose first @bytes
 * bytes are stored: zeroes the part of @buffer past them, and returns the
 * length of the part to read. */
gsize _imgxfer_clip_read (void *buffer,
                          gsize length,
                          guint64 offset,
                          guint64 bytes);

/* Whether @err (of fallocate or an ioctl) says "not here" rather than
 * "failed". */
gboolean _imgxfer_errno_is_not_supported (int err);

/* Makes @offset..+@length of the regular file @fd read as zeroes without
 * writing them (ZERO_RANGE, or PUNCH_HOLE; deallocating only when
 * @may_deallocate). G_IO_ERROR_NOT_SUPPORTED when the file system can do
 * neither: the caller writes zeroes then. */
gboolean _imgxfer_local_zero (int fd,
                              const char *path,
                              guint64 offset,
                              guint64 length,
                              gboolean may_deallocate,
                              GError **error);

G_END_DECLS
