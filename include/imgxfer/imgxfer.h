/* imgxfer.h: the one header applications include
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __IMGXFER_H_INSIDE__

#include <imgxfer/imgxfer-version.h>
#include <imgxfer/imgxfer-enum-types.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-extent.h>
#include <imgxfer/imgxfer-size.h>
#include <imgxfer/imgxfer-url.h>
#include <imgxfer/imgxfer-open-options.h>
#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-source.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-driver-spec.h>
#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-open-destination.h>
#include <imgxfer/imgxfer-archive.h>
#include <imgxfer/imgxfer-copy.h>
#include <imgxfer/imgxfer-checksum.h>
#include <imgxfer/imgxfer-compare.h>
#include <imgxfer/imgxfer-transfer-options.h>
#include <imgxfer/imgxfer-transfer.h>

#undef __IMGXFER_H_INSIDE__
