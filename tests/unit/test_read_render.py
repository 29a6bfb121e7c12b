"""The page as text: counts, citations, date precision, conflicts, the article list."""

from __future__ import annotations

from storyline.domain.events import StoryPage
from storyline.read.diffing import diff_revisions
from storyline.read.pages import story_html
from storyline.read.render import render_markdown, render_text, sentence_with_citations
from storyline.read.samples import story_history, story_revision


def test_markdown_page_has_the_reference_sections_in_order() -> None:
    page = render_markdown(story_revision(revision=5))
    lines = page.splitlines()
    assert lines[0] == "# North Korean forces continue operations in Russia's Kursk"
    assert "_Updated (6 articles, 5 independent reports)_" in lines
    timeline_at = lines.index("## Timeline")
    articles_at = lines.index("## All related articles (6 articles)")
    summary_at = next(i for i, line in enumerate(lines) if line.startswith("**Troops in Kursk**"))
    assert summary_at < timeline_at < articles_at


def test_citations_sit_before_the_full_stop_and_are_not_repeated() -> None:
    page = render_markdown(story_revision(revision=5))
    assert "after months of mine clearance [1][2]." in page
    from storyline.domain.events import Citation

    cites = (Citation(n=3, uri="u3", version=1, sentence=0),
             Citation(n=1, uri="u1", version=1, sentence=2),
             Citation(n=3, uri="u3", version=1, sentence=4))
    assert sentence_with_citations("It happened.", cites) == "It happened [3][1]."
    assert sentence_with_citations("No stop", cites) == "No stop [3][1]"
    assert sentence_with_citations("Uncited.", ()) == "Uncited."


def test_timeline_shows_precision_inference_and_conflicts() -> None:
    page = render_text(story_revision(revision=5))
    assert "Early Aug 2025 – About 1,000 engineers" in page
    assert "Oct 2024 – North Korea begins" in page
    assert "Dec 12, 2025 – Kim welcomes" in page
    # a date resolved from a relative expression says so
    assert "Feb 4, 2026 (inferred) – Ukrainian intelligence" in page
    # the disagreeing figure is shown with the article that states it
    assert "Sources disagree: figure given as about 1,500 engineers [2]." in page


def test_article_list_numbers_sources_dates_and_copies() -> None:
    page = render_text(story_revision(revision=5))
    assert ("[1] Yonhap: N. Korea welcomes engineer troops' return from Russia's Kursk region, "
            "Dec 13, 2025; also carried by KBS") in page
    assert "[2] CNN: Kim Jong Un welcomes returning North Korean engineers from Russia, " \
           "Dec 13, 2025\n" in page


def test_text_page_sets_key_phrases_off_once() -> None:
    page = render_text(story_revision(revision=2))
    assert "\nTroops in Kursk. North Korean engineers returned" in page


def test_singular_counts() -> None:
    page = render_text(story_revision(revision=1))
    assert "Updated (2 articles, 1 independent report)" in page
    assert "All related articles (2 articles)" in page


def test_rendering_is_deterministic() -> None:
    first = story_revision(revision=4)
    again = story_revision(revision=4)
    assert render_markdown(first) == render_markdown(again)
    assert render_text(first) == render_text(again)


def test_diff_of_non_consecutive_revisions() -> None:
    history = story_history(revisions=5)
    delta = diff_revisions(history[1], history[4])
    assert [e.entry_id for e in delta.entries_added] == ["e-deploy", "e-memorial",
                                                         "e-sculptures", "e-active"]
    assert [a.n for a in delta.articles_added] == [3, 4, 5]
    assert delta.articles_removed == []
    # the treaty entry gained a citation of article 5
    assert [c.entry_id for c in delta.entries_changed] == ["e-treaty"]
    assert delta.summary_changed and not delta.title_changed
    assert (delta.article_count_before, delta.article_count_after) == (3, 6)
    assert delta.articles_changed == []
    corrected = story_revision(revision=6, headline_override={2: "CNN corrects itself"})
    assert [(a.n, a.headline) for a in diff_revisions(history[4], corrected).articles_changed] \
        == [(2, "CNN corrects itself")]
    renamed = story_revision(revision=5, title="Kursk deployment goes on")
    assert diff_revisions(history[4], renamed).title_changed


def _with_plan(page: StoryPage, stated: bool) -> StoryPage:
    """``page`` with its first timeline entry turned into a plan (its sources wrote before
    its date), stated outright or inferred."""
    first = page.timeline[0].model_copy(update={"planned": True, "date_stated": stated})
    return page.model_copy(update={"timeline": (first, *page.timeline[1:])})


def test_a_plan_or_forecast_is_marked_expected_wherever_the_page_is_read() -> None:
    base = story_revision(revision=5)
    entry = base.timeline[0]
    assert not entry.planned
    assert "expected" not in render_text(base) and "expected" not in render_markdown(base)
    stated = _with_plan(base, stated=True)
    assert f"{entry.date_label} (expected) – " in render_text(stated)
    assert f"- **{entry.date_label} (expected)** – " in render_markdown(stated)
    inferred = _with_plan(base, stated=False)
    assert f"{entry.date_label} (inferred, expected) – " in render_text(inferred)
    html = story_html(inferred, head_revision=5)
    assert '<span class="planned">expected</span>' in html
    assert "a plan or forecast" in html
    assert "a plan or forecast" not in story_html(base, head_revision=5)
