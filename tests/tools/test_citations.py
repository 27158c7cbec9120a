"""`url_citations`: an annotation for each place an answer cites one of the search's sources, at Python string
indices (so `text[start_index:end_index]` is the citation, whatever precedes it)."""

from __future__ import annotations

from openai.types.responses.response_output_text import AnnotationURLCitation

from apps.tools.citations import url_citations
from apps.tools.web_search import SearchResult

DOCS = SearchResult("What's new in Python 3.13", "https://docs.python.org/3/whatsnew/3.13.html", "…")
PEP = SearchResult("PEP 719", "https://peps.python.org/pep-0719/", "…")
WIKI = SearchResult("Python (programming language)", "https://en.wikipedia.org/wiki/Python_(programming_language)")
SOURCES = [DOCS, PEP, WIKI]


def spans(text: str, annotations: list[dict]) -> list[str]:
    return [text[a["start_index"] : a["end_index"]] for a in annotations]


def test_markdown_link_to_a_source():
    text = f"Python 3.13 adds a free-threaded build ([docs]({DOCS.url}))."
    (citation,) = url_citations(text, SOURCES)
    assert citation == {
        "type": "url_citation",
        "start_index": text.index("[docs]"),
        "end_index": text.index(")).") + 1,
        "url": DOCS.url,
        "title": DOCS.title,
    }
    assert spans(text, [citation]) == [f"[docs]({DOCS.url})"]


def test_bare_url_of_a_source_without_its_trailing_punctuation():
    text = f"See {PEP.url}. Also {DOCS.url}, which lists the changes (and <{PEP.url}>, or **{DOCS.url}**)."
    citations = url_citations(text, SOURCES)
    assert spans(text, citations) == [PEP.url, DOCS.url, PEP.url, DOCS.url]
    assert [c["title"] for c in citations] == [PEP.title, DOCS.title, PEP.title, DOCS.title]


def test_urls_that_are_not_sources_are_ignored():
    text = f"Made up: [blog](https://blog.example.com/python). Bare: https://elsewhere.example/. Real: [d]({DOCS.url})"
    assert [c["url"] for c in url_citations(text, SOURCES)] == [DOCS.url]


def test_nothing_cited():
    assert url_citations("Python is a programming language.", SOURCES) == []
    assert url_citations(f"[d]({DOCS.url})", []) == []


def test_unicode_before_the_link_counts_in_characters():
    text = f"Café ☕ — 🐍 naïve 日本語 😀😀: [PEP]({PEP.url}) and {DOCS.url}"
    citations = url_citations(text, SOURCES)
    assert spans(text, citations) == [f"[PEP]({PEP.url})", DOCS.url]
    assert citations[0]["start_index"] == 25  # characters (code points), not UTF-8 bytes or UTF-16 units
    assert citations[0]["start_index"] != len(text[:25].encode())
    assert citations[0]["start_index"] != len(text[:25].encode("utf-16-le")) // 2


def test_parentheses_inside_a_source_url():
    text = f"The language ([Wikipedia]({WIKI.url})) and again {WIKI.url}."
    citations = url_citations(text, SOURCES)
    assert spans(text, citations) == [f"[Wikipedia]({WIKI.url})", WIKI.url]


def test_link_with_a_title_attribute_and_a_trailing_slash_difference():
    url = PEP.url.rstrip("/")
    text = f'[PEP 719]({url} "the schedule")'
    (citation,) = url_citations(text, SOURCES)
    assert (citation["url"], citation["title"]) == (url, PEP.title)
    assert spans(text, [citation]) == [text]


def test_the_same_source_cited_twice_gives_two_annotations_in_order():
    text = f"[a]({DOCS.url}) then [b]({DOCS.url})"
    assert [c["start_index"] for c in url_citations(text, SOURCES)] == [0, text.index("[b]")]


def test_sources_may_be_mappings_and_an_untitled_source_takes_the_link_text():
    text = f"[the docs]({DOCS.url})"
    (citation,) = url_citations(text, [{"url": DOCS.url, "title": ""}])
    assert citation["title"] == "the docs"


def test_annotations_are_what_the_openai_sdk_reads():
    text = f"[docs]({DOCS.url})"
    (citation,) = url_citations(text, SOURCES)
    assert AnnotationURLCitation.model_validate(citation).url == DOCS.url
