"""The policy's hashes: exactly the inline code the templates hold, nothing a request could change."""

import base64
import hashlib

from django.conf import settings

from forexgpt_site.content_policy import inline_code


def _sha(code: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"


def test_inline_code_is_hashed_and_request_dependent_code_is_named(tmp_path):
    (tmp_path / "page.html").write_text(
        '<script src="/static/a.js"></script>\n'
        '<script>ForexGPT.watchJob("job");</script>\n'
        '<script type="application/json" id="fig">{"data": []}</script>\n'
        '<script nonce="{{ request.csp_nonce }}">start({{ run.pk }});</script>\n'
        "<script>\r\n  poll({{ run.pk }});\r\n</script>\n"
        '<form onsubmit="return a &amp;&amp; confirm(\'Sure?\');"><button onclick="go({{ x }})">x</button></form>\n',
        newline="",
    )
    found = inline_code(tmp_path)
    assert found.scripts == {_sha('ForexGPT.watchJob("job");')}
    assert found.handlers == {_sha("return a && confirm('Sure?');")}  # as the browser decodes the attribute
    assert found.unhashable == ["page.html: <script>poll({{ run.pk }});", "page.html: go({{ x }})"]


def test_every_inline_script_of_the_templates_is_allowed_by_hash():
    found = inline_code(settings.BASE_DIR / "templates")
    assert found.unhashable == [], 'give these nonce="{{ request.csp_nonce }}" or move them to a static .js file'
    script_src = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]
    assert _sha('ForexGPT.watchJob("job");') in script_src
    assert found.scripts | found.handlers <= set(script_src) and "'unsafe-inline'" not in script_src
