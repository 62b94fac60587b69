/* imgxfer-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

G_DEFINE_QUARK (imgxfer-error-quark, imgxfer_error)
