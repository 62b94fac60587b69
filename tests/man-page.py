#!/usr/bin/python3
# man-page.py: imgxfer(1) documents every command and every option
#
#   man-page.py IMGXFER MANPAGE
#
# Runs `imgxfer --help` for the list of commands and `imgxfer COMMAND
# --help` for each command's options; fails, naming them, when the man
# page has no section for a command (".SS COMMAND") or when a command's
# section does not mention one of its long options.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import re
import subprocess
import sys


def help_text(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          timeout=30).stdout


def commands(imgxfer):
    text = help_text(imgxfer, "--help")
    block = text.split("Commands:", 1)[1]
    return re.findall(r"^  ([a-z]+)  ", block, re.M)


def options(imgxfer, command):
    text = help_text(imgxfer, command, "--help")
    if "Application Options:" not in text:
        return set()
    block = text.split("Application Options:", 1)[1]
    return set(re.findall(r"^  (?:-\w, )?--([a-z][a-z-]*)", block, re.M))


def sections(manpage):
    """{command: text of its .SS section}, roff's \\- read as -."""
    text = open(manpage).read().replace("\\-", "-")
    found = {}
    for part in re.split(r"^\.S[SH] ", text, flags=re.M)[1:]:
        name = part.split(None, 1)[0]
        found[name] = part
    return found


def main(imgxfer, manpage):
    found = sections(manpage)
    missing = []
    for command in commands(imgxfer):
        if command not in found:
            missing.append(f"section {command}")
            continue
        documented = set(re.findall(r"--([a-z][a-z-]*)", found[command]))
        missing += [f"{command} --{o}"
                    for o in sorted(options(imgxfer, command) - documented)]
    if len(commands(imgxfer)) < 5:
        missing.append("the commands of imgxfer --help")
    if missing:
        print(f"{manpage} lacks: " + ", ".join(missing))
        return 1
    print(f"{manpage} documents every command and option")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
