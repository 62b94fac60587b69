/* imgxfer-enum-types.c: the doc comment of a generated header
 *
 * imgxfer-enum-types.h is written by glib-mkenums at build time, so the
 * comment that describes its page of the reference lives here, where
 * gtk-doc reads it. Nothing compiles this file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:imgxfer-enum-types
 * @title: Enumeration types
 * @short_description: the GTypes of imgxfer's enumerations and flags
 *
 * Each enumeration and set of flags of imgxfer is registered as a #GType
 * (IMGXFER_TYPE_EXTENT_FLAGS for #ImgxferExtentFlags, and so on), for
 * properties, signals and language bindings.
 */
