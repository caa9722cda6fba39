"""Custom emoji: the folder of packs and ``emoji.txt`` files, read in a thread
(:mod:`pleromad.emoji.loader`), and the live, reloadable table the API
serves (:mod:`pleromad.emoji.table`)."""

from pleromad.emoji.loader import EmojiLoadError, Entry
from pleromad.emoji.table import BUNDLED, EmojiFile, EmojiSet, EmojiTable

__all__ = ["BUNDLED", "EmojiFile", "EmojiLoadError", "EmojiSet", "EmojiTable", "Entry"]
