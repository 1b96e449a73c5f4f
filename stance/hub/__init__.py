"""The hub stage: the model card (:mod:`~stance.hub.card`, its sections in :mod:`~stance.hub.sections`) and
publishing to the Hugging Face Hub in one commit (:mod:`~stance.hub.publish`)."""

from .card import build_card, check_card
from .publish import PublishResult, publish

__all__ = ["PublishResult", "build_card", "check_card", "publish"]
