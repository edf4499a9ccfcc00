"""RSS and Atom feeds: an article per item, its title, link, date and story; bad XML and
XML that is not a feed are skipped with a reason."""

from __future__ import annotations

from retrieval.corpus import parse_file

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>City News</title><link>https://citynews.example/</link>
<item>
  <title>Ferry returns after storm</title>
  <link>https://citynews.example/ferry</link>
  <guid isPermaLink="false">cn-101</guid>
  <pubDate>Mon, 06 May 2024 10:00:00 GMT</pubDate>
  <description>The ferry is back.</description>
  <content:encoded><![CDATA[<p>The ferry service resumed on Monday.</p>
    <p>Officials said 3,000 passengers travelled on the first day.</p>
    <p>Share this article</p>]]></content:encoded>
</item>
<item>
  <title>Bridge &amp; road works</title>
  <link>https://citynews.example/bridge</link>
  <guid>cn-102</guid>
  <description>&lt;p&gt;The bridge closes for &lt;b&gt;two&lt;/b&gt; weeks.&lt;/p&gt;</description>
</item>
<item><title>A headline only</title><guid>cn-103</guid></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Log</title>
<entry>
  <title type="text">Harbour reopens</title>
  <link rel="edit" href="https://harbour.example/api/1"/>
  <link rel="alternate" href="https://harbour.example/reopens"/>
  <id>tag:harbour.example,2024:1</id>
  <updated>2024-05-07T08:00:00Z</updated>
  <summary>Short version.</summary>
  <content type="html">&lt;p&gt;Ships returned to the harbour on Tuesday.&lt;/p&gt;</content>
</entry>
<entry>
  <title>Tides</title>
  <id>tag:harbour.example,2024:2</id>
  <summary>High tide is at 6 pm.
Low tide is at midnight.</summary>
</entry>
</feed>
"""


def test_rss_items_are_articles_with_their_story():
    parsed = parse_file("feeds/city.rss", RSS.encode())
    assert parsed.warnings == ["1 item without text skipped"]
    ferry, bridge = parsed.articles
    assert (ferry.doc_id, ferry.title, ferry.url, ferry.date) == (
        "feeds/city.rss#cn-101",
        "Ferry returns after storm",
        "https://citynews.example/ferry",
        "Mon, 06 May 2024 10:00:00 GMT",
    )
    # The full story (content:encoded) over the summary; page furniture dropped as always.
    assert ferry.paragraphs == (
        "The ferry service resumed on Monday.",
        "Officials said 3,000 passengers travelled on the first day.",
    )
    assert (bridge.title, bridge.date) == ("Bridge & road works", None)
    assert bridge.paragraphs == ("The bridge closes for two weeks.",)  # escaped HTML


def test_atom_entries_use_the_alternate_link_and_the_content():
    parsed = parse_file("harbour.xml", ATOM.encode())
    assert parsed.warnings == []
    reopens, tides = parsed.articles
    assert reopens.doc_id == "harbour.xml#tag:harbour.example,2024:1"
    assert (reopens.url, reopens.date) == (
        "https://harbour.example/reopens",
        "2024-05-07T08:00:00Z",
    )
    assert reopens.paragraphs == ("Ships returned to the harbour on Tuesday.",)
    assert (tides.url, tides.paragraphs) == (
        None,
        ("High tide is at 6 pm.", "Low tide is at midnight."),
    )


def feed(*links: str) -> bytes:
    items = "".join(
        f"<item><title>T{n}</title><link>{link}</link><description>Story {n}.</description></item>"
        for n, link in enumerate(links, 1)
    )
    return f"<rss><channel>{items}</channel></rss>".encode()


def test_items_without_distinct_ids_are_keyed_by_link_then_position():
    distinct = feed("https://x.example/a", "https://x.example/b")
    assert [a.doc_id for a in parse_file("x.rss", distinct).articles] == [
        "x.rss#https://x.example/a",
        "x.rss#https://x.example/b",
    ]
    repeated = feed("https://x.example/a", "https://x.example/a", "")
    assert [a.doc_id for a in parse_file("x.rss", repeated).articles] == [
        "x.rss#1",
        "x.rss#2",
        "x.rss#3",
    ]


def test_bad_xml_and_xml_that_is_not_a_feed_are_skipped_with_a_reason():
    assert parse_file("broken.xml", b"<rss><channel><item>").warnings == [
        "invalid XML (line 1, column 20)"
    ]
    sitemap = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url/></urlset>'
    assert parse_file("sitemap.xml", sitemap).warnings == [
        "no feed items (not an RSS or Atom feed)"
    ]


def test_entity_expansion_bombs_are_refused():
    entities = "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e0 "lol">{entities}]><rss>&e9;</rss>'
    parsed = parse_file("bomb.xml", bomb.encode())
    assert parsed.articles == [] and parsed.warnings[0].startswith("invalid XML")
