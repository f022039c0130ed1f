"""Which inline code of our templates the Content-Security-Policy lets the browser run.

Every inline `<script>` and `on...=` handler in templates/ is fixed text, so the policy allows each
by its sha256 (`'sha256-...'`) instead of `'unsafe-inline'`: a script injected into a page matches
no hash and does not run. Code whose text depends on the request cannot be hashed; it needs
`nonce="{{ request.csp_nonce }}"` on its tag (or a move to a static .js file), and `unhashable`
names it. Read once at startup; no Django imports (settings call it).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

_SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.S | re.I)
_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)')""", re.I)
_SRC_OR_NONCE = re.compile(r"\b(src|nonce)\s*=", re.I)
_DATA_BLOCK = re.compile(r"""\btype\s*=\s*["']?(application/(ld\+)?json|text/template)""", re.I)
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")


@dataclass
class InlineCode:
    scripts: set[str] = field(default_factory=set)  # CSP hash sources of <script> bodies
    handlers: set[str] = field(default_factory=set)  # ... of on*= attributes (need 'unsafe-hashes')
    unhashable: list[str] = field(default_factory=list)  # "template: code" that the policy blocks


def csp_hash(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"


def inline_code(template_dir: Path) -> InlineCode:
    """Hash sources for the inline scripts and event handlers of every template under `template_dir`."""
    found = InlineCode()
    for path in sorted(template_dir.rglob("*.html")):
        with open(path, encoding="utf-8", newline="") as fh:  # keep line endings: they are hashed
            text = fh.read()
        name = path.relative_to(template_dir)
        for script in _SCRIPT.finditer(text):
            attrs, body = script["attrs"], script["body"]
            if not body.strip() or _SRC_OR_NONCE.search(attrs) or _DATA_BLOCK.search(attrs):
                continue
            if _TEMPLATE_SYNTAX.search(body):
                found.unhashable.append(f"{name}: <script>{body.strip()[:60]}")
            else:
                found.scripts.add(csp_hash(body))
        for tag in _TAG.finditer(_SCRIPT.sub("", text)):
            for handler in _HANDLER.finditer(tag.group()):
                code = handler["double"] if handler["double"] is not None else handler["single"]
                if _TEMPLATE_SYNTAX.search(code):
                    found.unhashable.append(f"{name}: {code[:60]}")
                else:
                    found.handlers.add(csp_hash(html.unescape(code)))  # the browser hashes the decoded value
    return found
