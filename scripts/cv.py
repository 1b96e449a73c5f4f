#!/usr/bin/env python
"""Exactly ``stance cv``: python scripts/cv.py CONFIG --folds K [--group-by COLUMN] --output DIR [--set k=v]..."""

import sys

from stance.cli import main

if __name__ == "__main__":
    sys.exit(main(["cv", *sys.argv[1:]]))
