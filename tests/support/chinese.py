"""What a Chinese reader must not meet: English words left in a text, and Chinese typography
slips (a space inside Chinese or beside full-width punctuation, brackets in brackets).

Allowed in Chinese text: product and technology names, units, acronyms (``CPU``, ``SHA-512``),
camel-case wire and API names (``requestCpu``, ``CloneModelService``), setting names
(``CLONEBOT_APPROVAL_CHANNEL``), the spec's wire names and option values, slash commands and
paths (``/clone-model``), and whatever is in code (`` `…` ``), a link target, a mention, an emoji
code or a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from bot.zstack.clone_spec import PARAMETERS

CJK = re.compile(r"[\u4e00-\u9fff]")
NAMES = frozenset(
    {
        "ZStack",
        "Slack",
        "Docker",
        "Python",
        "Conda",
        "Transformers",
        "BentoML",
        "vLLM",
        "vCPU",
        "MiB",
    }
)
# Names of more than one word: the product (and the sandbox's short name for it), Slack's mode.
PHRASES = ("ZStack Clone Bot", "Clone Bot", "Socket Mode")
WIRE = frozenset(p.wire for p in PARAMETERS) | frozenset(o for p in PARAMETERS for o in p.options)
_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*(?:[.'’-][A-Za-z0-9_]+)*")
_HEX = re.compile(r"[0-9a-f]{8,}")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|^[A-Z][a-z]+[A-Z]")
_HIDDEN = (
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"<[^<>]*>"),  # a mention, a channel, a link target
    re.compile(r":[a-z0-9_+-]+:"),  # emoji codes
    re.compile(r"\{[^{}]*\}"),  # placeholders of a template (and of a date token's layout)
    re.compile(r"https?://\S+"),
    re.compile(r"(?<![\w/])/[\w][\w/.-]*"),  # a command or a path: /clone-model, /_emu/state
    re.compile(r"&(amp|lt|gt);"),
)
# What a reader sees of a date token (its layout and its fallback) and of a link (its label).
_DATE = re.compile(r"<!date\^\d+\^([^^|<>]*)(?:\^[^|<>]*)?\|([^<>]*)>")
_LABELLED = re.compile(r"<[^<>|]*\|([^<>]*)>")


def _shown(text: str, filler: str) -> str:
    """``text`` as read: markup and code replaced by ``filler``, labels and layouts kept."""
    for phrase in PHRASES:
        text = text.replace(phrase, filler)
    text = _DATE.sub(r"\1 \2", text)
    text = _LABELLED.sub(r"\1", text)
    for pattern in _HIDDEN:
        text = pattern.sub(filler, text)
    return text


def _allowed(word: str, data: frozenset[str]) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", word)
    return (
        len(letters) < 2  # units like s, h; a lone letter
        or word in NAMES
        or word in WIRE
        or word in data
        or word.isupper()  # acronyms and setting names: CPU, IAM2, SHA-512, CLONEBOT_...
        or "_" in word
        or bool(_HEX.fullmatch(word))  # UUIDs
        or bool(_CAMEL.search(word))  # requestCpu, CloneModelService, FineTune
    )


def english_words(text: str, data: Iterable[str] = ()) -> list[str]:
    """The English words a reader sees in ``text`` (mrkdwn or plain), beyond what is allowed and
    the test's own ``data`` (names, ids it put in)."""
    known = frozenset(data)
    return [w for w in _WORD.findall(_shown(text, " ")) if not _allowed(w, known)]


_FULL_WIDTH = "，。：；！？、（）「」『』【】《》“”"
_TYPOGRAPHY = {
    "a space between Chinese characters": re.compile(r"[\u4e00-\u9fff][ \u3000]+[\u4e00-\u9fff]"),
    # Beside a word or other punctuation; a separator (" · ", " → ") may keep its spaces.
    "a space beside full-width punctuation": re.compile(
        rf"[\w{_FULL_WIDTH}][ \u3000]+[{_FULL_WIDTH}]|[{_FULL_WIDTH}][ \u3000]+[\w{_FULL_WIDTH}]"
    ),
    "brackets in brackets": re.compile(r"[（(][^（）()]*[（(]|[）)][^（）()]*[）)]"),
    "half-width brackets around Chinese": re.compile(r"\([^()]*[\u4e00-\u9fff][^()]*\)"),
    "half-width punctuation after Chinese": re.compile(r"[\u4e00-\u9fff][,;:!?](?=\s|$)"),
}
# A syntax shown to be typed (“架构 容器镜像 …”) keeps its spaces.
_QUOTED = re.compile(r"“[^“”]*”")


def typography_problems(text: str) -> list[str]:
    """Chinese typography slips in ``text``: each as ``kind: excerpt``."""
    # Markup and code read as one Latin character: "运行 `/zstack login`。" is right.
    text = _QUOTED.sub("“”", _shown(text, "x") if CJK.search(text) else "")
    found = []
    for kind, pattern in _TYPOGRAPHY.items():
        for match in pattern.finditer(text):
            start = max(0, match.start() - 8)
            found.append(f"{kind}: {text[start : match.end() + 8]!r}")
    return found


_SHOWN_KEYS = frozenset(
    {"text", "title", "submit", "close", "label", "hint", "placeholder", "confirm", "deny"}
)


def visible_texts(payload: Any) -> Iterator[str]:
    """Every text a person sees in a Block Kit payload (blocks, a view, a message): text objects
    wherever they are, option labels, dialog texts, titles and buttons."""
    if isinstance(payload, dict):
        if payload.get("type") in ("plain_text", "mrkdwn") and isinstance(payload.get("text"), str):
            yield payload["text"]
            return
        for key, value in payload.items():
            if key in _SHOWN_KEYS and isinstance(value, str):
                yield value
            else:
                yield from visible_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from visible_texts(item)
