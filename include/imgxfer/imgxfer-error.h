/* imgxfer-error.h: the IMGXFER_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-error
 * @title: Errors
 * @short_description: the IMGXFER_ERROR domain and its codes
 *
 * Every call that can fail takes a #GError and returns %FALSE or %NULL
 * when it sets one. Errors of imgxfer's own concepts are in the
 * %IMGXFER_ERROR domain, with the codes of #ImgxferError; failures of the
 * system (files, sockets, cancellation) are in %G_IO_ERROR. Messages are
 * written for a person: they name the URL or file and, where there is
 * one, the offset.
 */

G_BEGIN_DECLS

/**
 * ImgxferError:
 * @IMGXFER_ERROR_FAILED: a failure with no better code
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
 *   holds the image in a way that forbids this use (qemu's image locks)
 * @IMGXFER_ERROR_RECONNECTED: the request was not done, or not surely:
 *   the backend's connection to its server was replaced by a new one, and
 *   writes acknowledged on the old one that no flush covered yet may be
 *   lost (the server may have restarted). The backend works on; write
 *   again what was written since the last successful
 *   imgxfer_destination_flush(), then send the request again
 *
 * The codes of the %IMGXFER_ERROR domain: errors of imgxfer's own
 * concepts. Plain I/O failures (a file that cannot be opened, a
 * connection refused, %G_IO_ERROR_CANCELLED, %G_IO_ERROR_CLOSED after
 * imgxfer_backend_close()) use %G_IO_ERROR; a driver answers
 * %G_IO_ERROR_NOT_SUPPORTED from an optional vfunc to hand the request
 * back to the library. Every message names the URL or file, and the
 * offset where there is one. The `imgxfer` command exits with its own
 * status for %IMGXFER_ERROR_EXPIRED and %IMGXFER_ERROR_DIFFERENT.
 *
 * A destination's imgxfer_destination_pwrite(), imgxfer_destination_zero()
 * and imgxfer_destination_flush() may fail with %IMGXFER_ERROR_RECONNECTED
 * when its driver replaced a connection that held writes not yet flushed.
 * Only the caller knows what it wrote: #ImgxferCopy writes those ranges
 * again from its source, a bounded number of times
 * (imgxfer_open_options_set_retries() of the destination), and other
 * callers fail or do the same. A driver that sends writes durable at once
 * never needs it.
 *
 * Since: 0.1
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
  IMGXFER_ERROR_RECONNECTED,
} ImgxferError;

/**
 * IMGXFER_ERROR:
 *
 * The error domain of imgxfer, whose codes are #ImgxferError. In Python,
 * `error.matches(Imgxfer.error_quark(), Imgxfer.Error.NOT_FOUND)`.
 *
 * Since: 0.1
 */
#define IMGXFER_ERROR (imgxfer_error_quark ())

IMGXFER_AVAILABLE_IN_ALL
GQuark imgxfer_error_quark (void);

G_END_DECLS
