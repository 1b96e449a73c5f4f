#!/usr/bin/env python
"""Exactly ``stance train``: python scripts/train.py CONFIG --output DIR [--set k=v]... [--resume|--overwrite]"""

import sys

from stance.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
