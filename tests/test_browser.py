"""The registrar's flows in a real browser: Playwright driving Debian's Chromium (headless)
against the live server on PostgreSQL. A screenshot of each final page is kept in
test-artifacts/ (git-ignored)."""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone, translation
from django.utils.formats import date_format
from playwright.sync_api import expect, sync_playwright

from cases import models as m
from cases.roles import READER, REGISTRAR
from cases.services.fixtures import load_register

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own download is not used
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "ett-långt-lösenord"
SECRET = "HEMLIG-SENTINEL-WEBBLÄSARE"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make test does)"
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are
    # still synchronous and safe. (Only while this module runs: deployment checks refuse it.)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """live_server tests end by emptying every table: load the seed register again."""
    yield
    with django_db_blocker.unblock():
        load_register()


@pytest.fixture
def site(live_server, settings):
    load_register()  # an earlier live_server test may have emptied the tables
    # The live server serves static files from the apps' folders, by their plain names
    # (production serves the hashed copies that collectstatic makes, through WhiteNoise).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    return live_server.url


@pytest.fixture
def open_as(browser, site):
    """A logged-in browser page (Swedish, as a registrar's browser sends) for a new user."""
    contexts, failed = [], []

    def open_(username, *roles, locale="sv-SE", viewport=None):
        user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.set(Group.objects.filter(name__in=roles))
        context = browser.new_context(locale=locale, timezone_id="Europe/Stockholm",
                                      viewport=viewport or {"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status == 404 and "/static/" in r.url else None)
        page.goto(f"{site}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.locator("input[type=submit]").click()
        expect(page.locator("#user-tools")).to_contain_text(username)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert failed == [], "static files missing"


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def choose(page, container, typed, option):
    """Pick ``option`` in the admin's autocomplete (select2) inside ``container``."""
    page.locator(f"{container} .select2-selection").first.click()
    page.locator(".select2-container--open .select2-search__field").fill(typed)
    page.locator(".select2-results__option", has_text=option).first.click()


def next_number() -> str:
    year = timezone.localdate().year
    serials = m.RegistrationNumber.objects.filter(
        organisation__short_name="KS", year=year).values_list("serial", flat=True)
    return f"KS {year}/{max([s for s in serials if s] or [0]) + 1}"


def test_a_registrar_registers_a_motion_and_sees_it_on_the_case_timeline(open_as):
    page = open_as("registrator", REGISTRAR)
    expected = next_number()
    page.get_by_role("link", name="Registrera inkommande handling").click()
    page.select_option("#id_document_type", "motion")
    expect(page.locator("fieldset[data-document-type=referral]")).to_be_hidden()
    expect(page.locator("fieldset[data-document-type=motion]")).to_be_visible()
    page.fill("#id_title", "Motion om läxhjälp i alla stadsdelar")
    choose(page, ".field-registering_organisation", "Kommunstyrelsen",
           "Kommunstyrelsen (Stockholm)")
    choose(page, ".field-addressed_to", "Kommunfullmäktige", "Kommunfullmäktige (Stockholm)")
    page.get_by_role("button", name="Registrera").click()

    expect(page.locator(".messagelist")).to_contain_text(f"Registrerad i ärende {expected}")
    motion = m.Motion.objects.get(title="Motion om läxhjälp i alla stadsdelar")
    assert [n.number for n in motion.case.registration_numbers.all()] == [expected]

    page.locator("#authors-group .add-row a").click()
    page.fill("#id_authors-0-position", "1")
    choose(page, "#authors-0", "jonsson", "Jan Jönsson")
    choose(page, "#authors-0 .field-party", "L", "L")
    page.locator("#proposals-group .add-row a").click()
    page.fill("#id_proposals-0-number", "1")
    page.fill("#id_proposals-0-text", "att läxhjälp erbjuds i alla stadsdelar")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("Ändrade")
    author = motion.authors.get()
    assert (author.person.name, author.party.abbreviation) == ("Jan Jönsson", "L")
    assert motion.proposals.get().text == "att läxhjälp erbjuds i alla stadsdelar"

    page.get_by_role("link", name="Länka", exact=True).click()
    page.select_option("#id_type", "mentions")
    choose(page, ".field-target", "Skottlandsmodellen",
           re.compile(r"^samverkansmodell: Skottlandsmodellen$"))
    page.get_by_role("button", name="Länka").click()
    expect(page.locator(".messagelist")).to_contain_text("Länkat")
    link = m.Link.objects.get(source_id=motion.pk)
    assert link.target.name == "Skottlandsmodellen"

    page.get_by_role("link", name="Ärendets gång").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Motion om läxhjälp i alla stadsdelar")
    expect(timeline).not_to_contain_text("Motion: Motion om")  # no label said twice
    with translation.override("sv"):
        expect(timeline).to_contain_text(date_format(timezone.localdate(), "j F Y"))
    expect(page.locator("#facts")).to_contain_text(expected)
    links = page.locator("#links")
    expect(links).to_contain_text("nämner")
    expect(links).to_contain_text("Skottlandsmodellen")
    expect(page.locator("#history")).to_contain_text("registrator")
    screenshot(page, "case-story")


def test_a_reader_cannot_change_anything_and_sees_no_confidential_detail(open_as):
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    case.confidential, case.confidentiality_basis = True, "OSL 26 kap. 1 §"
    case.public_title, case.title = "Ärende om en elev", f"{SECRET} om en elev"
    case.save()
    page = open_as("lasare", READER)

    page.goto(page.url.split("/admin/")[0] + "/admin/cases/case/")
    expect(page.locator("#result_list")).to_contain_text("Ärende om en elev")
    page.get_by_role("link", name="Ärende om en elev").first.click()
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.get_by_role("link", name="Makulera")).to_have_count(0)
    page.get_by_role("link", name="Ärendets gång").click()
    expect(page.locator("#timeline")).to_be_visible()
    for url in ("/admin/cases/case/register/", "/admin/cases/case/add/"):
        response = page.goto(page.url.split("/admin/")[0] + url)
        assert response.status == 403
    page.go_back()
    page.go_back()
    expect(page.locator("#facts")).to_contain_text("OSL 26 kap. 1 §")
    assert SECRET not in page.content()
    screenshot(page, "reader-case-story")


def test_the_second_of_two_concurrent_edits_is_refused_in_swedish(open_as, site):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    url = f"{site}/admin/cases/case/{case.pk}/change/"
    first = open_as("registrator1", REGISTRAR)
    second = open_as("registrator2", REGISTRAR)
    first.goto(url)
    second.goto(url)

    first.fill("#id_description", "Första registratorns beskrivning")
    first.locator("input[name=_continue]").click()
    expect(first.locator(".messagelist")).to_contain_text("Ändrade")

    second.fill("#id_description", "Andra registratorns beskrivning")
    second.locator("input[name=_continue]").click()
    refusal = second.locator("#case_form .errorlist.nonfield")
    expect(refusal).to_contain_text("Någon annan ändrade posten efter att du öppnade den")
    expect(refusal).to_contain_text("registrator1")
    assert m.Case.objects.get(pk=case.pk).description == "Första registratorns beskrivning"

    second.get_by_role("link", name="Se vad som ändrats").click()
    expect(second.locator("#change-history")).to_contain_text(
        "Första registratorns beskrivning")
    screenshot(second, "concurrent-edit-history")


def test_search_finds_jonsson_when_typing_without_diacritics(open_as):
    page = open_as("sokare", READER)
    page.get_by_role("link", name="Personer").first.click()
    page.fill("#searchbar", "jonsson")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list")).to_contain_text("Jan Jönsson")
    page.get_by_role("link", name="Hem").click()  # the start page leads to every register
    page.get_by_role("link", name="Handlingar").first.click()
    page.fill("#searchbar", "jonsson")
    page.press("#searchbar", "Enter")
    results = page.locator("#result_list")
    expect(results).to_contain_text("Motion om att utveckla de skolsociala teamen")
    assert re.search(r"\d+ resultat", page.locator("#changelist-search").inner_text())
    screenshot(page, "search-jonsson")


# --- a registrar's screen: 1,366 × 768, one language per page ------------------------------

LAPTOP = {"width": 1366, "height": 768}
CATALOGUE = Path(__file__).resolve().parent.parent / "locale/sv/LC_MESSAGES/django.po"
# Words the catalogue translates that the other language writes the same way in another
# sense, so that finding them says nothing about the page's language.
SHARED_WORDS = {"register", "status", "system", "administration", "handling"}
# What a page shows of the register's data (titles, names, source text), in the language of
# the sources whatever the page's language: left out before the page's own words are read.
DATA = ("#result_list tbody", "#changelist-filter li", ".readonly", "select", "textarea",
        "input", ".select2-container", ".breadcrumbs", "#content > h2", ".messagelist",
        "td[class*='field-']", "#facts dd", "#links td", "#sources mark", "#sources .context",
        ".fact", ".record", ".note", "td.before", "td.after", ".due-referral td:nth-child(2)",
        ".due-referral td:nth-child(4)", ".open-cases td:first-child")


def catalogue_phrases(language: str) -> tuple[set[str], set[str]]:
    """The words of our message catalogue in ``language`` ("en": the message ids, "sv":
    their translations) that read otherwise in the other language: each run between
    placeholders of two words or more, or one word of eight letters or more, but for the
    names of the register's organisations (Kommunfullmäktige is a body's name in either
    language). And the glosses among them: those the other language's texts put in
    parentheses ("voided (makulerad)"), which a page may show in parentheses."""
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as handle:
        pairs = [(message.id, message.string) for message in read_po(handle)
                 if message.id and message.string and not message.fuzzy]
    pairs = [(english[0] if isinstance(english, tuple) else english,
              swedish[0] if isinstance(swedish, tuple) else swedish)
             for english, swedish in pairs]
    own = [swedish if language == "en" else english for english, swedish in pairs]
    glossed = " ".join(re.findall(r"\(([^)]*)\)", " ".join(own))).casefold()
    names = {name.casefold() for name in m.Organisation.objects.values_list("name", flat=True)}
    phrases, glosses = set(), set()
    for english, swedish in pairs:
        if english.casefold() == swedish.casefold():
            continue
        for run in re.split(r"%\(\w+\)[sd]|%[sd]|\n", english if language == "en" else swedish):
            run = " ".join(run.split()).strip(" :.,;()–-")
            folded = run.casefold()
            if (len(run.split()) >= 2 or len(run) >= 8) and folded not in SHARED_WORDS \
                    and folded not in names:
                phrases.add(run)
                if folded in glossed:
                    glosses.add(run)
    return phrases, glosses


def other_language(words: str, phrases: set[str], glosses: set[str]) -> list[str]:
    """The ``phrases`` found in ``words``: anywhere, or for a gloss outside parentheses."""
    bare = re.sub(r"\([^)]*\)", " ", words)
    return sorted(phrase for phrase in phrases if re.search(
        rf"(?<!\w){re.escape(phrase)}(?!\w)", bare if phrase in glosses else words,
        re.IGNORECASE))


def page_words(page) -> str:
    """The page's visible text without the register's data (``DATA``)."""
    return page.evaluate("""(selectors) => {
        const copy = document.body.cloneNode(true);
        for (const selector of selectors) copy.querySelectorAll(selector).forEach(e => e.remove());
        copy.querySelectorAll('[hidden], .hidden, script, style').forEach(e => e.remove());
        return copy.textContent.replace(/\\s+/g, ' ');
    }""", list(DATA))


def wider_than_window(page) -> list[str]:
    """Every visible element of the page that reaches past the window's right edge, and
    every box whose content is wider than the box (scrolled sideways or cut off: a list's
    last column hidden behind the filters)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().width > 1)
        .flatMap(e => {
            const found = [], name = `${e.tagName.toLowerCase()}#${e.id}.${e.className}`;
            if (e.getBoundingClientRect().right > window.innerWidth + 1)
                found.push(`${name} ends at ${Math.round(e.getBoundingClientRect().right)}`);
            if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX)
                    && e.scrollWidth > e.clientWidth + 1)
                found.push(`${name} holds ${e.scrollWidth} px in ${e.clientWidth}`);
            return found;
        })""")


@pytest.mark.parametrize("language,locale,other", [("sv", "sv-SE", "en"), ("en", "en-GB", "sv")])
def test_the_daily_pages_fit_a_laptop_and_speak_one_language(open_as, site, language, locale,
                                                             other):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    page = open_as(f"registrator-{language}", REGISTRAR, locale=locale, viewport=LAPTOP)
    phrases, glosses = catalogue_phrases(other)
    pages = {"start": "/admin/", "case list": "/admin/cases/case/",
             "case": f"/admin/cases/case/{case.pk}/change/",
             "story": f"/admin/cases/case/{case.pk}/story/",
             "registering": "/admin/cases/case/register/", "overview": "/admin/oversikt/"}
    problems = {}
    for name, path in pages.items():
        response = page.goto(site + path)
        assert response.status == 200, (name, response.status)
        assert page.evaluate("document.documentElement.lang") == language, name
        wide = wider_than_window(page)
        found = other_language(page_words(page), phrases, glosses)
        # Notes of source passages are data, but written for the page's language.
        notes = set(page.locator(".note").evaluate_all("(notes) => notes.map(n => n.lang)"))
        if wide or found or notes - {language}:
            problems[name] = {"wider than 1,366 px": wide[:5], f"in {other}": found,
                              "notes in": sorted(notes - {language})}
        screenshot(page, f"laptop-{language}-{name.replace(' ', '-')}")
    assert problems == {}


def test_a_registrar_registers_a_letter_from_a_private_person_and_finds_it_by_date(open_as):
    page = open_as("registrator-brev", REGISTRAR, viewport=LAPTOP)
    expected = next_number()
    page.get_by_role("link", name="Registrera inkommande handling").first.click()
    page.select_option("#id_document_type", "letter")
    expect(page.locator("fieldset[data-document-type=motion]")).to_be_hidden()
    page.fill("#id_title", "Brev om trafiken vid Västra skolan")
    received = timezone.localdate() - datetime.timedelta(days=9)
    page.fill("#id_received_date", received.isoformat())
    page.fill("#id_sender_name", "Anna Andersson")
    page.fill("#id_sender_address", "anna.andersson@example.se")
    choose(page, ".field-registering_organisation", "Kommunstyrelsen",
           "Kommunstyrelsen (Stockholm)")
    page.get_by_role("button", name="Registrera").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Registrerad i ärende {expected}")
    document = m.Document.objects.get(title="Brev om trafiken vid Västra skolan")
    assert (document.type, document.sender_name, document.case.registered) == (
        "letter", "Anna Andersson", received)
    expect(page.locator("#id_sender_name")).to_have_value("Anna Andersson")

    page.get_by_role("link", name="Hem").click()
    page.get_by_role("link", name="Ärenden").first.click()
    filter_ = page.locator("#changelist-filter .date-range-filter").first
    filter_.locator("input[type=date]").nth(0).fill(received.isoformat())
    filter_.locator("input[type=date]").nth(1).fill(received.isoformat())
    filter_.get_by_role("button", name="Visa").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Brev om trafiken vid Västra skolan")
    expect(rows.first).to_contain_text(received.isoformat())
    expect(rows.first).to_contain_text(expected)
    assert wider_than_window(page) == []
    screenshot(page, "letter-found-by-date")
