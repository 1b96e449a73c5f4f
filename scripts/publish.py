#!/usr/bin/env python
"""Exactly ``stance publish``: python scripts/publish.py MODEL_DIR --repo-id OWNER/NAME [--dry-run OUT_DIR] ..."""

import sys

from stance.cli import main

if __name__ == "__main__":
    sys.exit(main(["publish", *sys.argv[1:]]))
