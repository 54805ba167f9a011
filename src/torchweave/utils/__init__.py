"""Small helpers shared by every layer (no torch here)."""

from torchweave.utils.text import did_you_mean, format_value, quote_list

__all__ = ["did_you_mean", "format_value", "quote_list"]
