#!/usr/bin/env python
"""Exactly ``stance evaluate``: python scripts/evaluate_model.py MODEL_DIR DATA --output DIR [--split test]

Not named evaluate.py: run as a script, that file would shadow the `evaluate` library that stance imports.
"""

import sys

from stance.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
