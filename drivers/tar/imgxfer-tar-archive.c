/* imgxfer-tar-archive.c: where the members of a tar archive lie
 *
 * libarchive reads the headers only: each member's data is skipped with a
 * seek, so scanning a large OVA costs a few reads per member. The data
 * offset of a member is archive_filter_bytes (a, -1) read right after its
 * header, before any data is read: libarchive counts there the bytes the
 * tar reader consumed, whatever it buffered ahead, and this matches
 * Python's tarfile offset_data for ustar, GNU and pax archives (long
 * names and pax extended headers included).
 *
 * Only uncompressed tar is accepted. Every filter is enabled only so that
 * a compressed archive is recognised and refused by name: without them a
 * gzip'd OVA is just "Unrecognized archive format". Only the tar format is
 * enabled, since "all formats" would happily list the members of a zip.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <imgxfer/imgxfer-error.h>

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-tar-archive.h"

#define READ_BLOCK_SIZE (64 * 1024)

/* Names shown when a member is not found; an OVA holds a handful. */
#define MAX_LISTED_MEMBERS 10

static void
member_free (ImgxferTarMember *member)
{
  g_free (member->name);
  g_free (member->raw_name);
  g_free (member->link);
  g_free (member);
}

static void
archive_clear (ImgxferTarArchive *archive)
{
  if (archive->fd >= 0)
    close (archive->fd);
  g_free (archive->path);
  g_clear_pointer (&archive->members, g_ptr_array_unref);
}

ImgxferTarArchive *
_imgxfer_tar_archive_ref (ImgxferTarArchive *archive)
{
  return g_atomic_rc_box_acquire (archive);
}

void
_imgxfer_tar_archive_unref (ImgxferTarArchive *archive)
{
  g_atomic_rc_box_release_full (archive, (GDestroyNotify)archive_clear);
}

/* libarchive may leave its error string NULL (some truncations do). */
static char *
libarchive_message (struct archive *a, const char *fallback)
{
  const char *message = archive_error_string (a);
  char *copy = g_strdup (message && *message ? message : fallback);

  /* Messages are one line for people; libarchive's sometimes end in a
   * newline. */
  g_strdelimit (copy, "\r\n", ' ');
  return g_strchomp (copy);
}

static gboolean
open_file (ImgxferTarArchive *archive, GError **error)
{
  struct stat st;
  int saved_errno;

  archive->fd = _imgxfer_local_open (archive->path, O_RDONLY | O_CLOEXEC,
                                     error);
  if (archive->fd < 0)
    return FALSE;

  if (fstat (archive->fd, &st) < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: stat failed: %s", archive->path,
                   g_strerror (saved_errno));
      return FALSE;
    }

  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                   "%s: not a tar archive (not a regular file)",
                   archive->path);
      return FALSE;
    }
  if (st.st_size == 0)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                   "%s: not a tar archive (empty file)", archive->path);
      return FALSE;
    }

  archive->file_size = st.st_size;
  return TRUE;
}

/* Refuses a compressed archive, naming the compression. The filters are
 * chosen when the archive is opened, before any header is read. */
static gboolean
check_not_compressed (ImgxferTarArchive *archive,
                      struct archive *a,
                      GError **error)
{
  const char *filter;

  if (archive_filter_code (a, 0) == ARCHIVE_FILTER_NONE)
    return TRUE;

  filter = archive_filter_name (a, 0);
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
               "%s: the archive is compressed (%s); its members cannot be "
               "read in place, decompress it first",
               archive->path, filter ? filter : "unknown filter");
  return FALSE;
}

static void
add_member (ImgxferTarArchive *archive,
            struct archive *a,
            struct archive_entry *entry)
{
  ImgxferTarMember *member = g_new0 (ImgxferTarMember, 1);
  const char *raw = archive_entry_pathname (entry);
  const char *utf8 = archive_entry_pathname_utf8 (entry);

  /* Names are shown in UTF-8 when libarchive can convert them, and
   * matched in both forms, since the caller's locale decides which one a
   * command line carries. */
  member->name = g_strdup (utf8 ? utf8 : raw ? raw : "");
  if (raw != NULL && g_strcmp0 (raw, member->name) != 0)
    member->raw_name = g_strdup (raw);
  member->offset = archive_filter_bytes (a, -1);
  member->size = archive_entry_size (entry);
  member->regular = archive_entry_filetype (entry) == AE_IFREG
                    && archive_entry_hardlink (entry) == NULL;
  member->sparse = archive_entry_sparse_count (entry) > 0;
  if (archive_entry_hardlink (entry) != NULL)
    member->link = g_strdup (archive_entry_hardlink (entry));
  else if (archive_entry_symlink (entry) != NULL)
    member->link = g_strdup (archive_entry_symlink (entry));

  g_ptr_array_add (archive->members, member);
}

/* A member whose data runs past the end of the file still has its header
 * returned: only the sizes tell. Its padding to the next 512-byte block
 * must be there too: qemu reads a byte range only in whole 512-byte
 * sectors, so a format driver stacked on a member extends the range over
 * the padding (see _IMGXFER_TAR_PADDED_SIZE). A sparse member's size is
 * its expanded size, not what is stored, so it cannot be checked this way
 * (it is refused when asked for anyway). */
static gboolean
check_member_complete (ImgxferTarArchive *archive,
                       const ImgxferTarMember *member,
                       GError **error)
{
  if (!member->regular || member->sparse
      || member->offset + _IMGXFER_TAR_PADDED_SIZE (member->size)
             <= archive->file_size)
    return TRUE;

  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
               "%s: member \"%s\" (offset %" G_GUINT64_FORMAT ", size %"
               G_GUINT64_FORMAT ") runs past the end of the file (%"
               G_GUINT64_FORMAT " bytes): the archive is truncated",
               archive->path, member->name, member->offset, member->size,
               archive->file_size);
  return FALSE;
}

static gboolean
header_error (ImgxferTarArchive *archive, struct archive *a, GError **error)
{
  g_autofree char *message = NULL;
  const ImgxferTarMember *last;

  if (archive->members->len == 0)
    {
      message = libarchive_message (a, "no tar header");
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                   "%s: not a tar archive (%s)", archive->path, message);
      return FALSE;
    }

  last = g_ptr_array_index (archive->members, archive->members->len - 1);
  message = libarchive_message (a, "truncated or damaged archive");
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
               "%s: cannot read the header after member \"%s\": %s",
               archive->path, last->name, message);
  return FALSE;
}

static gboolean
scan (ImgxferTarArchive *archive,
      struct archive *a,
      GCancellable *cancellable,
      GError **error)
{
  struct archive_entry *entry;
  int r;

  if (archive_read_open_fd (a, archive->fd, READ_BLOCK_SIZE) != ARCHIVE_OK)
    {
      g_autofree char *message = libarchive_message (a, "cannot open");
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                   "%s: not a tar archive (%s)", archive->path, message);
      return FALSE;
    }

  if (!check_not_compressed (archive, a, error))
    return FALSE;

  /* ARCHIVE_WARN (a name not convertible in this locale, ...) still
   * gives a usable header. Unread data is skipped by the next call. */
  while ((r = archive_read_next_header (a, &entry)) != ARCHIVE_EOF)
    {
      const ImgxferTarMember *member;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return header_error (archive, a, error);

      /* Only tar is enabled; this guards against that ever changing. */
      if ((archive_format (a) & ARCHIVE_FORMAT_BASE_MASK)
          != ARCHIVE_FORMAT_TAR)
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                       "%s: not a tar archive (%s)", archive->path,
                       archive_format_name (a));
          return FALSE;
        }

      add_member (archive, a, entry);
      member = g_ptr_array_index (archive->members, archive->members->len - 1);
      if (!check_member_complete (archive, member, error))
        return FALSE;
    }

  return TRUE;
}

/* How many scans this process made: a scan reads every header of the
 * archive, so the tests check that an image is not scanned twice. */
static guint n_scans;

guint
_imgxfer_tar_archive_count_scans (void)
{
  return g_atomic_int_get (&n_scans);
}

/**
 * _imgxfer_tar_archive_open:
 * @path: the archive file
 *
 * Scans the whole archive (headers only). Fails on anything that is not
 * a complete, uncompressed tar archive.
 *
 * Returns: (transfer full): the archive, with the file left open for
 *   _imgxfer_tar_archive_pread()
 */
ImgxferTarArchive *
_imgxfer_tar_archive_open (const char *path,
                           GCancellable *cancellable,
                           GError **error)
{
  g_autoptr (ImgxferTarArchive) archive
      = g_atomic_rc_box_new0 (ImgxferTarArchive);
  struct archive *a;
  gboolean ok;

  g_atomic_int_inc (&n_scans);
  archive->fd = -1;
  archive->path = g_strdup (path);
  archive->members = g_ptr_array_new_with_free_func (
      (GDestroyNotify)member_free);

  if (!open_file (archive, error))
    return NULL;

  a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  ok = scan (archive, a, cancellable, error);
  archive_read_free (a);

  return ok ? g_steal_pointer (&archive) : NULL;
}

/* "./disk.img" and "disk.img" name the same member (GNU tar writes the
 * former when given "." or "./disk.img"), and "dir/" and "dir" the same
 * directory. */
static gboolean
same_name (const char *a, const char *b)
{
  gsize a_len, b_len;

  while (a[0] == '.' && a[1] == '/')
    a += 2;
  while (b[0] == '.' && b[1] == '/')
    b += 2;
  for (a_len = strlen (a); a_len > 1 && a[a_len - 1] == '/'; a_len--)
    ;
  for (b_len = strlen (b); b_len > 1 && b[b_len - 1] == '/'; b_len--)
    ;
  return a_len == b_len && memcmp (a, b, a_len) == 0;
}

static gboolean
member_has_name (const ImgxferTarMember *member, const char *name)
{
  return same_name (member->name, name)
         || (member->raw_name != NULL && same_name (member->raw_name, name));
}

static char *
list_regular_members (ImgxferTarArchive *archive)
{
  g_autoptr (GString) list = g_string_new (NULL);
  guint listed = 0, more = 0;

  for (guint i = 0; i < archive->members->len; i++)
    {
      const ImgxferTarMember *member = g_ptr_array_index (archive->members, i);

      if (!member->regular)
        continue;
      if (listed == MAX_LISTED_MEMBERS)
        {
          more++;
          continue;
        }
      g_string_append_printf (list, "%s\"%s\"", listed ? ", " : "",
                              member->name);
      listed++;
    }

  if (listed == 0)
    return g_strdup ("the archive holds no files");
  if (more > 0)
    g_string_append_printf (list, " and %u more", more);
  return g_strdup_printf ("members: %s", list->str);
}

const ImgxferTarMember *
_imgxfer_tar_archive_find (ImgxferTarArchive *archive,
                           const char *name,
                           GError **error)
{
  const ImgxferTarMember *found = NULL;

  if (name == NULL || *name == '\0')
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: empty member name", archive->path);
      return NULL;
    }

  /* The last of several members with one name wins, as when the archive
   * is extracted (and as Python's tarfile.getmember answers). */
  for (guint i = 0; i < archive->members->len; i++)
    {
      const ImgxferTarMember *member = g_ptr_array_index (archive->members, i);
      if (member_has_name (member, name))
        found = member;
    }

  if (found == NULL)
    {
      g_autofree char *list = list_regular_members (archive);
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_FOUND,
                   "%s: no member \"%s\" (%s)", archive->path, name, list);
      return NULL;
    }
  if (!found->regular && found->link != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: member \"%s\" is not a regular file but a link to "
                   "\"%s\"; name that member instead",
                   archive->path, found->name, found->link);
      return NULL;
    }
  if (!found->regular)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: member \"%s\" is not a regular file", archive->path,
                   found->name);
      return NULL;
    }
  if (found->sparse)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                   "%s: member \"%s\" is stored sparse (tar --sparse), so "
                   "its data is not one byte range; recreate the archive "
                   "without --sparse",
                   archive->path, found->name);
      return NULL;
    }

  return found;
}

gboolean
_imgxfer_tar_archive_pread (ImgxferTarArchive *archive,
                            void *buffer,
                            gsize length,
                            guint64 offset,
                            GError **error)
{
  /* A short read means the archive shrank after it was scanned. */
  return _imgxfer_local_pio (archive->fd, archive->path, FALSE, buffer,
                             length, offset, error);
}
