/* imgxfer-error.h: the IMGXFER_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <imgxfer/imgxfer-version.h>

G_BEGIN_DECLS

/**
 * ImgxferError:
 * @IMGXFER_ERROR_FAILED: generic failure with no better code
 * @IMGXFER_ERROR_UNKNOWN_URL: no driver handles this URL or path
 * @IMGXFER_ERROR_INVALID_ARGUMENT: a bad option, range, size or URL part
 * @IMGXFER_ERROR_NOT_SUPPORTED: the backend cannot do this operation
 * @IMGXFER_ERROR_NOT_FOUND: the image, member or bitmap does not exist
 * @IMGXFER_ERROR_BAD_IMAGE: the image or archive is malformed, truncated
 *   or of a kind that cannot be read safely (compressed archive, sparse member)
 * @IMGXFER_ERROR_DRIVER: a driver's helper (qemu-nbd, a server) failed
 * @IMGXFER_ERROR_SHORT_READ: a read returned less data than asked
 * @IMGXFER_ERROR_EXPIRED: the transfer ticket expired or was cancelled
 * @IMGXFER_ERROR_DIFFERENT: two images differ
 * @IMGXFER_ERROR_IN_USE: another process (a virtual machine, qemu-nbd)
 *   holds the image in a way that forbids this use (qemu's image locks).
 *   Since: 0.1
 *
 * Errors of imgxfer's own concepts. Plain I/O failures use %G_IO_ERROR.
 */
typedef enum
{
  IMGXFER_ERROR_FAILED,
  IMGXFER_ERROR_UNKNOWN_URL,
  IMGXFER_ERROR_INVALID_ARGUMENT,
  IMGXFER_ERROR_NOT_SUPPORTED,
  IMGXFER_ERROR_NOT_FOUND,
  IMGXFER_ERROR_BAD_IMAGE,
  IMGXFER_ERROR_DRIVER,
  IMGXFER_ERROR_SHORT_READ,
  IMGXFER_ERROR_EXPIRED,
  IMGXFER_ERROR_DIFFERENT,
  IMGXFER_ERROR_IN_USE,
} ImgxferError;

#define IMGXFER_ERROR (imgxfer_error_quark ())

IMGXFER_AVAILABLE_IN_ALL
GQuark imgxfer_error_quark (void);

G_END_DECLS
