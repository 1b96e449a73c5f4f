"""Print the count tables of data/README.md (the dataset card) from the corpus files, as markdown.

    python scripts/dataset_card_stats.py [--data data] [--no-tokens]

Paste the output into the card; tests/test_corpus.py checks that the card's tables match the files.
"""

from __future__ import annotations

import argparse

from stance.config import EMBEDDED_BASE
from stance.data.stats import corpus_tables
from stance.modeling.bases import display_name, load_tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data", help="folder with train/dev/test.jsonl and articles.jsonl")
    parser.add_argument("--no-tokens", action="store_true", help="skip the token-length table")
    args = parser.parse_args(argv)
    tokenizer = None if args.no_tokens else load_tokenizer(EMBEDDED_BASE)
    print(corpus_tables(args.data, tokenizer, tokenizer_name=display_name(EMBEDDED_BASE)))


if __name__ == "__main__":
    main()
