/* fuzz-tar.c: a hostile tar or OVA archive given to the tar driver
 *
 * The bytes become an archive file (a memfd, so nothing is left on disk)
 * that the driver scans with libarchive; then every member is looked up
 * by name and the first block of the ones found is read. A member must
 * lie inside the file: its data is read with pread at the offsets the
 * scan found.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>

#include "drivers/tar/imgxfer-tar-archive.h"

#include "fuzz.h"

static void
check_member (ImgxferTarArchive *archive, const char *name)
{
  g_autoptr (GError) error = NULL;
  const ImgxferTarMember *member;
  guint8 block[_IMGXFER_TAR_BLOCK_SIZE];
  gsize length;

  member = _imgxfer_tar_archive_find (archive, name, &error);
  if (member == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_cmpuint (member->offset, <=, archive->file_size);
  g_assert_cmpuint (member->size, <=, archive->file_size - member->offset);
  length = MIN (member->size, sizeof block);
  if (!_imgxfer_tar_archive_pread (archive, block, length, member->offset,
                                   &error))
    g_error ("%s: cannot read a member the scan found: %s", name,
             error->message);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (ImgxferTarArchive) archive = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  int fd = memfd_create ("fuzz-tar", MFD_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, size), ==, (ssize_t)size);
  path = g_strdup_printf ("/proc/self/fd/%d", fd);

  archive = _imgxfer_tar_archive_open (path, NULL, &error);
  if (archive != NULL)
    {
      for (guint i = 0; i < archive->members->len; i++)
        {
          const ImgxferTarMember *member = archive->members->pdata[i];

          check_member (archive, member->name);
        }
      check_member (archive, "disk.img");
    }
  else
    g_assert_nonnull (error);
  close (fd);
  return 0;
}
