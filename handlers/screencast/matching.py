"""Deny- and allow-list matching on OCR'd text, tolerant to case, spacing and OCR noise.

Text and terms are folded the same way: lower case, look-alike characters unified
(``0``/``o``, ``1``/``l``/``|``, ``rn``/``m``, ...; Cyrillic letters shaped like Latin ones, which
OCR of mixed Russian and English text swaps freely: ``а``/``a``, ``е``/``e``, ``о``/``o``,
``р``/``p``, ``с``/``c``, ...) and split into alphanumeric tokens (any script). A term
matches a run of whole consecutive tokens joined without separators, so ``Chat GPT``,
``chatgpt.com`` and ``ChatGPT - Google Chrome`` all contain ``chatgpt``, while ``poem`` does not
contain ``poe``. Long terms also match with a few edits (1 edit from 8 characters, 2 from 12),
short ones only exactly: ``discord`` must not match ``discard``.

:data:`DEFAULT_DENY_LIST` holds distinctive names of messengers, search engines, AI chat sites,
homework-help sites, translators and remote-desktop tools, as English and Russian interfaces
write them (``Телеграм``, ``Мессенджер ВКонтакте``, ``Ответы Mail.ru``, ``ГДЗ``, ``Яндекс Переводчик``, ...).
Russian words that are also ordinary vocabulary (``знания``, ``ответы``, ``поиск``, ``в контакте``)
appear only inside longer names. An allow-list entry removes the deny
terms it covers (``"stack overflow"`` allows Stack Overflow for an open-book exam).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_DENY_LIST", "Matcher", "Term", "fold_tokens", "within_edits"]

DEFAULT_DENY_LIST: dict[str, list[str]] = {
    "ai_assistant": ["ChatGPT", "chat.openai.com", "OpenAI", "claude.ai", "Google Gemini",
                     "gemini.google.com", "Microsoft Copilot", "copilot.microsoft.com", "Perplexity",
                     "DeepSeek", "poe.com", "character.ai", "HuggingChat", "grok.com",
                     "ЧатГПТ", "GigaChat", "ГигаЧат", "YandexGPT", "ЯндексGPT"],
    "messenger": ["WhatsApp", "Telegram", "Discord", "messenger.com", "Facebook Messenger", "Skype",
                  "Viber", "WeChat", "Snapchat", "slack.com", "Signal Desktop",
                  "Телеграм", "Мессенджер ВКонтакте", "vk.com", "VK Мессенджер", "Вайбер", "Ватсап",
                  "Вотсап", "Дискорд", "Скайп"],
    "search_engine": ["Google Search", "google.com/search", "bing.com", "Microsoft Bing", "DuckDuckGo",
                      "Yahoo Search", "search.yahoo.com", "Yandex", "Baidu", "Ecosia", "Startpage",
                      "Brave Search", "Яндекс", "ya.ru", "Поиск в Google", "Поиск Mail.ru"],
    "homework_help": ["Chegg", "Course Hero", "Brainly", "Quizlet", "Stack Overflow", "Wolfram Alpha",
                      "WolframAlpha", "Symbolab", "Mathway", "Photomath", "Studocu",
                      "Ответы Mail.ru", "otvet.mail.ru", "znanija.com", "Знания.com", "ГДЗ", "gdz.ru",
                      "Решебник", "Studfile", "Studwork", "Студворк"],
    "translator": ["Google Translate", "DeepL", "Google Переводчик", "Переводчик Google",
                   "Яндекс Переводчик", "translate.yandex.ru"],
    "remote_access": ["TeamViewer", "AnyDesk", "RuDesktop"],
}

_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "|": "l", "!": "l", "$": "s", "@": "a",
                             # Cyrillic letters drawn like Latin ones (OCR swaps them in mixed text)
                             "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "к": "k", "м": "m", "н": "h",
                             "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ь": "b"})
_TOKEN = re.compile(r"[^\W_]+")
_MAX_EXTRA_TOKENS = 2  # OCR may split a term into this many more pieces


def fold_tokens(text: str) -> list[str]:
    """Lower-cased, look-alike-folded alphanumeric tokens of ``text``."""
    folded = text.lower().translate(_LOOKALIKES).replace("rn", "m").replace("vv", "w")
    return _TOKEN.findall(folded)


@dataclass(frozen=True)
class Term:
    """One list entry: as written, its category and its folded, joined form."""

    text: str
    category: str
    joined: str
    n_tokens: int

    @classmethod
    def make(cls, text: str, category: str) -> Term:
        tokens = fold_tokens(text)
        return cls(text, category, "".join(tokens), max(1, len(tokens)))

    @property
    def max_edits(self) -> int:
        n = len(self.joined)
        return 0 if n < 8 else 1 if n < 12 else 2


class Matcher:
    """Finds deny-list terms in lines of text and tells whether a title is allowed."""

    def __init__(self, deny: Mapping[str, Iterable[str]], allow: Iterable[str] = ()) -> None:
        self.allow = [t for t in (Term.make(a, "allow") for a in allow) if t.joined]
        terms = [Term.make(text, category) for category, texts in deny.items() for text in texts]
        self.deny = [t for t in terms if t.joined and not self._covered(t)]
        self._longest = max((t.n_tokens for t in [*self.deny, *self.allow]), default=1) + _MAX_EXTRA_TOKENS
        self._cache: dict[str, list[Term]] = {}

    def _covered(self, term: Term) -> bool:
        return any(term.joined in a.joined or a.joined in term.joined for a in self.allow)

    def denied(self, line: str) -> list[Term]:
        """The deny terms found in ``line`` (cached: screens repeat)."""
        if line not in self._cache:
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[line] = _find(self.deny, self._candidates(line))
        return self._cache[line]

    def allowed(self, title: str) -> bool:
        """True when no allow-list is set or ``title`` contains one of its entries."""
        return not self.allow or bool(_find(self.allow, self._candidates(title)))

    def _candidates(self, line: str) -> dict[int, dict[str, int]]:
        """Runs of consecutive tokens joined, by length, with the most tokens each was made of."""
        tokens = fold_tokens(line)
        by_length: dict[int, dict[str, int]] = {}
        for i in range(len(tokens)):
            joined = ""
            for count, token in enumerate(tokens[i:i + self._longest], 1):
                joined += token
                runs = by_length.setdefault(len(joined), {})
                runs[joined] = max(runs.get(joined, 0), count)
        return by_length


def _find(terms: list[Term], candidates: dict[int, dict[str, int]]) -> list[Term]:
    """Exact matches, and near ones (OCR errors) made of at least as many words as the term:
    ``characteri`` (a word being typed) is not ``character.ai``."""
    found = []
    for term in terms:
        n, k = len(term.joined), term.max_edits
        if term.joined in candidates.get(n, ()):
            found.append(term)
            continue
        if k and any(within_edits(c, term.joined, k) for size in range(n - k, n + k + 1)
                     for c, count in candidates.get(size, {}).items() if count >= term.n_tokens):
            found.append(term)
    return found


def within_edits(a: str, b: str, k: int) -> bool:
    """Levenshtein distance of ``a`` and ``b`` is at most ``k`` (rows cut off early)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > k:
            return False
        previous = current
    return previous[-1] <= k
