/* imgxfer-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

/**
 * imgxfer_error_quark:
 *
 * The error domain of imgxfer's own errors, #ImgxferError; use
 * %IMGXFER_ERROR.
 *
 * Returns: the #GQuark of the domain
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (imgxfer-error-quark, imgxfer_error)
