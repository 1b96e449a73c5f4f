#!/usr/bin/env python
"""Exactly ``stance predict``: python scripts/predict.py MODEL_DIR (--text T ... | --input FILE | --article FILE ...)"""

import sys

from stance.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
