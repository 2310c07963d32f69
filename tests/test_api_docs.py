"""The API documentation pages work with no network: every asset they load is served by us."""

from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest
from django.contrib.staticfiles import finders

ATTRIBUTES = {"src", "href", "action", "data", "spec-url"}


class References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.urls += [value for name, value in attrs if name in ATTRIBUTES and value]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_reference_no_external_host(client, path):
    response = client.get(path)
    assert response.status_code == 200
    found = references(response.content.decode())
    assert found.urls, "the page loads nothing at all"
    for url in found.urls:
        parsed = urlparse(url)
        assert not parsed.scheme and not parsed.netloc, f"{path} loads {url}"
    # Inline scripts name no host either (Swagger UI's validator badge would).
    for script in found.scripts:
        assert "http://" not in script and "https://" not in script, script[:200]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_assets_are_our_static_files(client, path):
    html = client.get(path).content.decode()
    assets = [url for url in references(html).urls if url.startswith("/static/")]
    assert assets
    for url in assets:
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among the static files"
