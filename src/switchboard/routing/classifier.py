"""What kind of task a chat request is, for `openrouter/auto`: a fast, local, rule-based look.

No model call and no download: a few regular expressions over the latest user turn, plus the
request's shape (images, tools, prompt size). The checks run from the most binding to the
least: a request with an image needs a vision model whatever its words say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TASKS = ("vision", "long_context", "tools", "code", "reasoning", "language", "chat")
LONG_CONTEXT_TOKENS = 64_000

_CODE = re.compile(
    r"```|\b(def|class|import|return|const|let|var|func|fn|struct|impl|public static|#include)"
    r"\b.*[(:{=]|[;{}]\s*$|=>|\b(python|javascript|typescript|java|golang|rust|kotlin|swift|"
    r"c\+\+|c#|sql|bash|shell script|regex|html|css|json schema|dockerfile|kubernetes|api|"
    r"code|coding|programming|script|function|method|variable|compile[sr]?|compiler|bug|debug|"
    r"stack ?trace|traceback|\w*exception|\w+error|segfault|refactor|unit tests?|"
    r"pull request|git|npm|pip)\b|(?-i:\bSELECT\b.+\bFROM\b)|"
    r"代码|函数|编程|程序|报错|调试",
    re.IGNORECASE | re.MULTILINE,
)
_REASONING = re.compile(
    r"\b(prove|proof|theorem|lemma|solve|equation|integral|derivative|calculus|algebra|"
    r"geometry|probability|statistics|matrix|eigen\w*|prime|factori[sz]e|logic puzzle|riddle|"
    r"step[- ]by[- ]step|how many|calculate|compute the|optimi[sz]e)\b|"
    r"\\(frac|sum|int|sqrt)|\d+\s*[-+*/^×÷=]\s*\d+|\b[a-z]\^\d|[∫∑√π≤≥≠]|"
    r"证明|方程|计算|求解|积分|概率|数学|推理",
    re.IGNORECASE,
)
_TRANSLATE = re.compile(
    r"\b(translat\w*|in(to)? (french|spanish|german|chinese|japanese|korean|russian|arabic|"
    r"italian|portuguese|hindi|english))\b|翻译|翻譯|traduc\w*|übersetz\w*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Classification:
    task: str  # one of TASKS
    reason: str  # a short sentence for the generation record


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    return ""


def latest_user_text(messages: list[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return _text(m.get("content"))
    return ""


def _foreign_share(text: str) -> float:
    """Share of letters outside Latin script: Chinese, Japanese, Cyrillic, Arabic..."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if ord(ch) > 0x24F) / len(letters)


def classify(
    messages: list[Any], *, images: int = 0, tools: bool = False, prompt_tokens: int = 0
) -> Classification:
    if images:
        return Classification("vision", f"the prompt carries {images} image(s)")
    if prompt_tokens > LONG_CONTEXT_TOKENS:
        return Classification("long_context", f"the prompt is about {prompt_tokens} tokens")
    if tools:
        return Classification("tools", "the request offers tools to call")
    text = latest_user_text(messages)[:20_000]  # the task is stated early; bound the scan
    code = len(_CODE.findall(text))
    maths = len(_REASONING.findall(text))
    if code and code >= maths:
        return Classification("code", "the prompt is about code")
    if maths:
        return Classification("reasoning", "the prompt asks for maths or step-by-step reasoning")
    if _TRANSLATE.search(text):
        return Classification("language", "the prompt asks for a translation")
    if _foreign_share(text) > 0.3:
        return Classification("language", "the prompt is written in a non-Latin script")
    return Classification("chat", "plain conversation")
