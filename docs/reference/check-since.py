#!/usr/bin/env python3
"""Fails when a symbol of the gtk-doc reference has no Since: line.

gtk-doc lists every symbol in xml/api-index-full.xml and those whose doc
comment says "Since: 0.1" in xml/api-index-0.1.xml (one index per
version). A symbol in the first and in none of the others lacks its line.

Usage: check-since.py XML_DIR
"""
import glob
import os
import re
import sys

LINK = re.compile(r'<indexentry><primaryie linkends="([^"]+)"')


def symbols(path):
    with open(path, encoding='utf-8') as f:
        return set(LINK.findall(f.read()))


xml_dir = sys.argv[1]
everything = symbols(os.path.join(xml_dir, 'api-index-full.xml'))
with_since = set()
for path in glob.glob(os.path.join(xml_dir, 'api-index-[0-9]*.xml')):
    with_since |= symbols(path)

missing = sorted(everything - with_since)
for symbol in missing:
    print(f'{symbol}: no "Since:" line in its doc comment')
if not everything:
    print(f'{xml_dir}/api-index-full.xml lists no symbol')
sys.exit(1 if missing or not everything else 0)
