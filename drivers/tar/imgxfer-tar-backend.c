/* imgxfer-tar-backend.c: members of tar archives (OVA) as sources
 *
 * A member is named either by the member option on a plain path or file:
 * URL (`imgxfer convert --member disk.qcow2 vm.ova ...`), or by a tar: URL
 * whose query holds the percent-encoded member name:
 *
 *   tar:///path/to/vm.ova?member=disk%201.vmdk
 *
 * The member's bytes are read in place, as the byte range of the archive
 * file that libarchive located (see imgxfer-tar-archive.c); nothing is
 * extracted and no tar program runs. get_local_file() gives that range,
 * so a qcow2 or vmdk member is opened by the qemu driver on top of it.
 * With the "direct" open option, reads bypass the page cache through a
 * descriptor of their own opened with O_DIRECT: a member starts on a
 * 512-byte boundary of the archive, rarely on a 4096-byte one, so every
 * read goes through an aligned bounce buffer covering the enclosing
 * aligned range.
 *
 * A member is seen at its size rounded up to 512 bytes, the tail reading
 * as zeroes, as a raw file is.
 *
 * Members are read only. Compressed archives, sparse members and
 * truncated archives are refused: their bytes are not where the headers
 * say, and reading them in place would give wrong data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-tar-backend.h"

/* Direct I/O: the alignment that suits every common device and file
 * system, and the size of the bounce buffer. */
#define DIRECT_ALIGNMENT 4096
#define BOUNCE_SIZE (1024 * 1024)

struct _ImgxferTarBackend
{
  ImgxferBackend parent_instance;

  ImgxferTarArchive *archive;
  const ImgxferTarMember *member;

  /* Direct I/O only: a descriptor of this connection opened with
   * O_DIRECT, and its aligned bounce buffer (allocated on first use). */
  int direct_fd;
  guint8 *bounce;
};

static const char *const tar_params[] = { "member", NULL };

#define TAR_URL_FORM "tar:///path/to/archive?member=NAME"

/* The archive and the member (%NULL when none) that @url names: a tar:
 * URL, or the archive's path or file: URL. */
static gboolean
parse_archive_url (const char *url, char **path, char **member, GError **error)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, error);

  *path = NULL;
  *member = NULL;
  if (parsed == NULL)
    return FALSE;
  if (!g_str_equal (imgxfer_url_get_scheme (parsed), "tar"))
    {
      *path = imgxfer_url_get_local_path (parsed, error);
      return *path != NULL;
    }

  if (!imgxfer_url_is_local (parsed))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: archives are local files; expected " TAR_URL_FORM, url);
      return FALSE;
    }
  if (*imgxfer_url_get_path (parsed) == '\0')
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: no archive path; expected " TAR_URL_FORM, url);
      return FALSE;
    }
  if (!imgxfer_url_check_params (parsed, tar_params, error))
    return FALSE;

  *path = g_strdup (imgxfer_url_get_path (parsed));
  *member = g_strdup (imgxfer_url_get_param (parsed, "member"));
  return TRUE;
}

char *
_imgxfer_tar_archive_path_from_url (const char *url, GError **error)
{
  g_autofree char *member = NULL;
  char *path;

  parse_archive_url (url, &path, &member, error);
  return path;
}

/* The member is named once: by the option (`--member`) or by the URL.
 * Sets @path to the archive's. */
static char *
member_name (ImgxferBackend *backend, char **path, GError **error)
{
  const char *url = imgxfer_backend_get_url (backend);
  const char *option
      = imgxfer_open_options_get_member (imgxfer_backend_get_options (backend));
  char *member = NULL;

  if (!parse_archive_url (url, path, &member, error))
    return NULL;
  if (option != NULL && member != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: the member is given twice, as \"%s\" in the URL and "
                   "as \"%s\" by the options (--member)",
                   url, member, option);
      g_free (member);
      return NULL;
    }
  if (option != NULL)
    return g_strdup (option);
  if (member == NULL)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                 "%s: no archive member given (use --member NAME or "
                 "tar:///path?member=NAME)", url);
  return member;
}

/* imgxfer_open() stacks the format driver over a member and opens this
 * driver as "raw" below it; a backend made here directly with another
 * format would serve a qcow2 member's bytes as guest data: wrong data. */
static gboolean
check_format (ImgxferBackend *backend, GError **error)
{
  const char *format
      = imgxfer_open_options_get_format (imgxfer_backend_get_options (backend));

  if (format == NULL || g_ascii_strcasecmp (format, "raw") == 0)
    return TRUE;

  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
               "%s: format \"%s\" cannot be given with a tar: URL; give the "
               "archive path with --member instead",
               imgxfer_backend_get_url (backend), format);
  return FALSE;
}

static gboolean
find_member (ImgxferTarBackend *self,
             GCancellable *cancellable,
             GError **error)
{
  ImgxferBackend *backend = IMGXFER_BACKEND (self);
  g_autofree char *path = NULL;
  g_autofree char *member = member_name (backend, &path, error);

  if (member == NULL)
    return FALSE;

  self->archive = _imgxfer_tar_archive_open (path, cancellable, error);
  if (self->archive == NULL)
    return FALSE;

  self->member = _imgxfer_tar_archive_find (self->archive, member, error);
  return self->member != NULL;
}

static gboolean
imgxfer_tar_backend_open (ImgxferBackend *backend,
                          GCancellable *cancellable,
                          GError **error)
{
  ImgxferTarBackend *self = IMGXFER_TAR_BACKEND (backend);
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);

  if (imgxfer_open_options_get_writable (options))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: archive members are read only",
                   imgxfer_backend_get_url (backend));
      return FALSE;
    }
  if (!check_format (backend, error))
    return FALSE;

  /* A clone or a listing hands over an archive already scanned. */
  if (self->archive == NULL && !find_member (self, cancellable, error))
    return FALSE;
  if (imgxfer_open_options_get_direct (options))
    {
      self->direct_fd = _imgxfer_local_open (
          self->archive->path, O_RDONLY | O_DIRECT | O_CLOEXEC, error);
      if (self->direct_fd < 0)
        return FALSE;
    }

  /* A raw image's size, as for a file (see IMGXFER_SECTOR_SIZE). */
  imgxfer_backend_set_size (backend,
                            _imgxfer_sector_round_up (self->member->size));
  /* No extents: a member is plain bytes in the archive, and SEEK_DATA on
   * the archive says little about them. The caller reports data. */
  imgxfer_backend_set_caps (backend, 0);
  imgxfer_backend_set_block_sizes (backend, 1, 4096, 0);
  /* Clones share one descriptor through pread; the kernel takes them
   * all, as for a plain file. */
  imgxfer_backend_set_max_connections (backend, 16);
  return TRUE;
}

/* Opens @member of @archive without scanning the archive again. */
static ImgxferBackend *
new_sharing_archive (ImgxferTarArchive *archive,
                     const ImgxferTarMember *member,
                     const char *url,
                     ImgxferOpenOptions *options,
                     GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (ImgxferTarBackend) self = NULL;

  self = g_object_new (IMGXFER_TYPE_TAR_BACKEND,
                       "url", url,
                       "options", options,
                       NULL);
  self->archive = _imgxfer_tar_archive_ref (archive);
  self->member = member;

  if (!g_initable_init (G_INITABLE (self), cancellable, error))
    return NULL;
  return IMGXFER_BACKEND (g_steal_pointer (&self));
}

ImgxferBackend *
_imgxfer_tar_backend_new_for_member (ImgxferTarArchive *archive,
                                     const ImgxferTarMember *member,
                                     GCancellable *cancellable,
                                     GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_member (options, member->name);
  imgxfer_open_options_set_format (options, "raw");
  return new_sharing_archive (archive, member, archive->path, options,
                              cancellable, error);
}

/* Clones share the scanned archive and its descriptor: pread needs no
 * file position, and the member is where it was. */
static ImgxferBackend *
imgxfer_tar_backend_clone (ImgxferBackend *backend,
                           GCancellable *cancellable,
                           GError **error)
{
  ImgxferTarBackend *self = IMGXFER_TAR_BACKEND (backend);

  return new_sharing_archive (self->archive, self->member,
                              imgxfer_backend_get_url (backend),
                              imgxfer_backend_get_options (backend),
                              cancellable, error);
}

/* The member's exact range. Its padding to the next 512-byte boundary
 * is checked to be in the file too (tar pads with zeroes), so a format
 * driver may round @size up to 512 where qemu insists on whole sectors;
 * a raw member's size stays exact. */
static gboolean
imgxfer_tar_backend_get_local_file (ImgxferBackend *backend,
                                    char **path,
                                    guint64 *offset,
                                    guint64 *size)
{
  ImgxferTarBackend *self = IMGXFER_TAR_BACKEND (backend);

  /* Closed, or never opened: the range is no longer known. */
  if (self->archive == NULL)
    return FALSE;
  if (path)
    *path = g_strdup (self->archive->path);
  if (offset)
    *offset = self->member->offset;
  if (size)
    *size = self->member->size;
  return TRUE;
}

/* Reads @length bytes at @offset of the archive into @buffer through the
 * bounce buffer, one aligned range at a time. Direct reads come short
 * only at the end of the file, where the archive's own end lies beyond
 * the member. */
static gboolean
pread_direct (ImgxferTarBackend *self,
              guint8 *buffer,
              gsize length,
              guint64 offset,
              GError **error)
{
  const char *path = self->archive->path;

  if (self->bounce == NULL)
    self->bounce = g_aligned_alloc (1, BOUNCE_SIZE, DIRECT_ALIGNMENT);

  while (length > 0)
    {
      guint64 start = offset & ~(guint64)(DIRECT_ALIGNMENT - 1);
      gsize skip = offset - start;
      gsize n = MIN (length, BOUNCE_SIZE - skip);
      gsize want = (skip + n + DIRECT_ALIGNMENT - 1)
                   & ~(gsize)(DIRECT_ALIGNMENT - 1);
      ssize_t got;

      do
        got = pread (self->direct_fd, self->bounce, want, start);
      while (got < 0 && errno == EINTR);

      if (got < 0)
        return _imgxfer_set_errno_error (error, errno, path, "read", offset);
      if ((gsize)got < skip + n)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_SHORT_READ,
                       "%s: unexpected end of file at offset %"
                       G_GUINT64_FORMAT, path, start + MAX ((gsize)got, skip));
          return FALSE;
        }

      memcpy (buffer, self->bounce + skip, n);
      buffer += n;
      offset += n;
      length -= n;
    }
  return TRUE;
}

static gboolean
imgxfer_tar_backend_pread (ImgxferSource *source,
                           void *buffer,
                           gsize length,
                           guint64 offset,
                           GCancellable *cancellable,
                           GError **error)
{
  ImgxferTarBackend *self = IMGXFER_TAR_BACKEND (source);
  guint64 archive_offset = self->member->offset + offset;

  /* The tail of the last sector reads as zeroes, whatever padding the
   * archive holds there. */
  length = _imgxfer_clip_read (buffer, length, offset, self->member->size);
  if (length == 0)
    return TRUE;
  if (self->direct_fd >= 0)
    return pread_direct (self, buffer, length, archive_offset, error);
  return _imgxfer_tar_archive_pread (self->archive, buffer, length,
                                     archive_offset, error);
}

/* The archive (its descriptor and member list, shared with the clones)
 * goes with the last connection that holds it. Nothing was written: only
 * the direct descriptor's close can fail. */
static gboolean
imgxfer_tar_backend_close (ImgxferBackend *backend, GCancellable *cancellable,
                           GError **error)
{
  ImgxferTarBackend *self = IMGXFER_TAR_BACKEND (backend);
  int direct_fd = g_steal_fd (&self->direct_fd);

  self->member = NULL;
  g_clear_pointer (&self->archive, _imgxfer_tar_archive_unref);
  if (direct_fd >= 0 && close (direct_fd) < 0 && errno != EINTR)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: closing the archive: %s",
                   imgxfer_backend_get_url (backend), g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
imgxfer_tar_backend_release (ImgxferBackend *backend)
{
  g_aligned_free (IMGXFER_TAR_BACKEND (backend)->bounce);
}

static void
imgxfer_tar_backend_instance_init (ImgxferBackend *backend)
{
  IMGXFER_TAR_BACKEND (backend)->direct_fd = -1;
}

static JsonNode *
imgxfer_tar_backend_list_members (ImgxferBackendClass *klass, const char *path,
                                  GCancellable *cancellable, GError **error)
{
  return _imgxfer_tar_archive_list (path, cancellable, error);
}

static const char *const tar_schemes[] = { "tar", NULL };

static const ImgxferDriverSpec tar_driver = {
  .name = "tar",
  .description = "Members of uncompressed tar archives (OVA), read only: "
                 "--member NAME, or tar:///path/vm.ova?member=NAME",
  .schemes = tar_schemes,
  .init = imgxfer_tar_backend_instance_init,
  .finalize = imgxfer_tar_backend_release,
  .open = imgxfer_tar_backend_open,
  .clone = imgxfer_tar_backend_clone,
  .get_local_file = imgxfer_tar_backend_get_local_file,
  .close = imgxfer_tar_backend_close,
  .list_members = imgxfer_tar_backend_list_members,
  .pread = imgxfer_tar_backend_pread,
};

IMGXFER_DEFINE_DRIVER (ImgxferTarBackend, imgxfer_tar_backend, &tar_driver)
