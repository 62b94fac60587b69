/* commands.h: the subcommands of imgxfer, one file each
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "cli.h"

extern const CliCommand cli_command_checksum;
extern const CliCommand cli_command_compare;
extern const CliCommand cli_command_convert;
extern const CliCommand cli_command_drivers;
extern const CliCommand cli_command_extents;
extern const CliCommand cli_command_info;
extern const CliCommand cli_command_measure;
extern const CliCommand cli_command_serve;
extern const CliCommand cli_command_ticket;
