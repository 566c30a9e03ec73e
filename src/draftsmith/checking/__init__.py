"""The grammar and spelling checker: fast detectors that explain each problem (``draftsmith check``).

English: Hunspell spelling with ranked suggestions, and a curated set of precise grammar rules.
Chinese: confusion sets of similar-sounding and similar-looking characters over jieba's dictionary.
Also readability figures (``readability``) and errant-based classification of corrections (``classify``).
"""

from draftsmith.checking.check import Checker, check_text, iter_problems, iter_problems_stream
from draftsmith.checking.problem import RULES, Problem

__all__ = ["RULES", "Checker", "Problem", "check_text", "iter_problems", "iter_problems_stream"]
