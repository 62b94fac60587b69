/* imgxfer-driver-spec.c: a driver defined by a table of callbacks
 *
 * The functions that IMGXFER_DEFINE_DRIVER() calls, so that the macro
 * expanded in every driver stays a few lines.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-driver-spec.h>

/* Overrides only what @spec gives: the base class keeps its defaults
 * (clone, get_local_files) for the rest. */
#define SET_IF_GIVEN(target, spec, member)                                     \
  G_STMT_START                                                                 \
  {                                                                            \
    if ((spec)->member != NULL)                                                \
      (target)->member = (spec)->member;                                       \
  }                                                                            \
  G_STMT_END

/**
 * imgxfer_driver_spec_init_class: (skip)
 * @spec: a driver's table
 * @klass: its backend class, being initialized
 *
 * Fills in @klass from @spec; for IMGXFER_DEFINE_DRIVER().
 *
 * Since: 0.1
 */
void
imgxfer_driver_spec_init_class (const ImgxferDriverSpec *spec,
                                ImgxferBackendClass *klass)
{
  klass->name = spec->name;
  klass->description = spec->description;
  klass->schemes = spec->schemes;
  klass->formats = spec->formats;
  klass->signatures = spec->signatures;
  SET_IF_GIVEN (klass, spec, open);
  SET_IF_GIVEN (klass, spec, clone);
  SET_IF_GIVEN (klass, spec, get_local_file);
  SET_IF_GIVEN (klass, spec, get_local_files);
  SET_IF_GIVEN (klass, spec, close);
  SET_IF_GIVEN (klass, spec, create);
  SET_IF_GIVEN (klass, spec, info);
  SET_IF_GIVEN (klass, spec, measure);
  SET_IF_GIVEN (klass, spec, checksum);
  SET_IF_GIVEN (klass, spec, list_members);
}

/**
 * imgxfer_driver_spec_init_source: (skip)
 * @spec: a driver's table
 * @iface: its #ImgxferSource implementation, being initialized
 *
 * Fills in @iface from @spec's source members; for
 * IMGXFER_DEFINE_DRIVER().
 *
 * Since: 0.1
 */
void
imgxfer_driver_spec_init_source (const ImgxferDriverSpec *spec,
                                 ImgxferSourceInterface *iface)
{
  iface->pread = spec->pread;
  iface->extents = spec->extents;
}

/**
 * imgxfer_driver_spec_init_destination: (skip)
 * @spec: a driver's table
 * @iface: its #ImgxferDestination implementation, being initialized
 *
 * Fills in @iface from @spec's destination members; for
 * IMGXFER_DEFINE_DRIVER().
 *
 * Since: 0.1
 */
void
imgxfer_driver_spec_init_destination (const ImgxferDriverSpec *spec,
                                      ImgxferDestinationInterface *iface)
{
  iface->pwrite = spec->pwrite;
  iface->zero = spec->zero;
  iface->flush = spec->flush;
}
