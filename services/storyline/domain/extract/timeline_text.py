"""Event statements: which dated sentences can stand as a timeline entry, and their tokens.

Shared by the incremental :class:`~storyline.domain.page.timeline.TimelineIndex` (the page) and
:func:`~storyline.domain.page.timeline_select.build_timeline` (the evaluation view), so both judge
sentences the same way.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from storyline.domain.events import DatePrecision
from storyline.domain.extract.text import (
    without_picture_positions,
    without_section_heading,
    wordset,
)
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.facts import ArticleFacts, DateMention, TimeSpan
from storyline.domain.words import STOPWORDS, stem

# Finest first: the index of a precision is its coarseness.
PRECISION_RANK: dict[DatePrecision, int] = {
    DatePrecision.DAY: 0,
    DatePrecision.PART_OF_MONTH: 1,
    DatePrecision.MONTH: 2,
    DatePrecision.QUARTER: 3,
    DatePrecision.HALF: 4,
    DatePrecision.YEAR: 5,
}

MIN_WORDS = EXTRACT.statement_min_words  # the tuning: storyline.domain.extract.tuning
MAX_WORDS = EXTRACT.statement_max_words

# Openers that link a sentence to the one before it; an entry stands alone, so they go.
_FILLER = re.compile(
    r"^(?:(?:and|but|so|yet|also|meanwhile|however|moreover|still|now|then|instead|indeed|"
    r"in addition|in fact|separately|elsewhere|earlier|later|at the same time|by contrast|"
    r"on the other hand|as a result|nevertheless|nonetheless|furthermore|besides)\b,?\s+)+",
    re.IGNORECASE,
)
# Comment threads and bylines quoted into bodies: "At 21:31 21st Jun 2010, Ebi35 wrote:".
_NOISE = re.compile(
    r"\bwrote:|\bposted (?:by|at)\b|\blast updated\b|https?://|www\.|@\w|"
    r"\bthis comment (?:was|has been) removed\b|"
    r"^\s*(?:photo|picture|video|click|follow|email|read more|related|copyright|"
    r"advertisement)\b|"
    # Reader comments stamped with a clock time: "5:49 pm | All foreign aid must stop!!",
    # "7:46 pm | Reply February 8, 2011 at 7:01 pm | Reply ...".
    r"^\s*\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?\s*\||\|\s*(?:reply|report abuse)\b|"
    # Navigation and metadata lines use pipes; prose does not.
    r"\s\|\s|"
    # The article's own record, not the story's: its print edition ("This article appeared
    # on p28 of the Main section ... on Monday 27 April 2009"), its web publication and its
    # corrections ("This article was amended on 8 May 2010 to correct ...") date the page.
    r"\bappeared (?:on|in) (?:p|page)\.? ?[A-Z]?\d+\b|\bappeared in print\b|"
    r"\bpublished on (?:[\w-]+\.)+(?:com|co\.uk|org|net)\b|"
    r"\bthis (?:article|story|report) (?:was|has been) "
    r"(?:amended|corrected|updated|changed|edited)\b",
    re.IGNORECASE,
)
# Picture credits and wire codes in front of a caption or story: "(AP Photo/Charles Dharapak)
# (Charles Dharapak - AP)", "(By Keith Bedford--Bloomberg News)", "(nN07171381)".
_LEAD_CREDITS = re.compile(r"^\s*(?:\([^()]{1,80}\)\s*)+(?=[A-Z])")
# A live blog's time stamp before the news: "(Update 12:40 p.m. Cairo, 5:40 a.m. ET)",
# "(Updated 5:45 p.m. (0045 in Egypt))", "2:30 pm ET - ".
_LIVE_STAMP = re.compile(
    r"^\s*(?:\(\s*updated?\b(?:[^()]|\([^()]*\))*\)\s*[-–—:]?\s*|"
    r"\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?\s*(?:[A-Z]{2,3}T?)?\s*[-–—|]\s*)",
    re.IGNORECASE,
)
# What joined the sentence to the one before it in a list, or a bullet: "; and ...", ": Farrow
# is ...", "-- (Update 9:46 p.m. ...) ..."
_LEAD_SEPARATOR = re.compile(r"^(?:[;:]\s+|[-–—*•]+\s*)")
# A web page's stamp left in front of its first sentence once the date before it has gone
# ("Tuesday, September 16, 2008; 4:30 PM Just a day after ...", "14:06 UTC Paul Sousa
# is ...", "Page A01 Employers are ..."): a clock time with its half of the day or its zone,
# or a print page, then the news in capitals. Prose says "At 4:30 pm, ...".
_PAGE_STAMP = re.compile(
    r"^\s*(?:\d{1,2}:\d{2}(?:\s*(?:[AaPp]\.?[Mm]\.?|[A-Z]{2,4}\b))?(?:\s*[A-Z]{2,4}\b)?|"
    r"Page\s+[A-Z]?\d{1,3})\s*(?=[A-Z\"“])"
)
_QUOTE_CHARS = ('"', "“", "”", "``", "''")
# The months as the page writes them: its date labels (page.timeline.date_label) and the
# days the summary adds to quoted sentences (analysis._glossed). Not calendar.month_abbr,
# which follows the locale.
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*")


# A dateline or shouted heading glued before the sentence: "NEW ORLEANS--", "NEW CAP FOR
# LEAKING OIL WELL In June", "(Reuters) -", bullets.
_LEAD_JUNK = re.compile(
    # a wire dateline, with its region and its day: "NEW YORK, Feb. 19--", "CAIRO, 3 Feb
    # (Reuters) -", "BELTON, Mo., Oct. 20--", "RIGA, Latvia--"
    r"^(?:[A-Z][A-Z .'’]+,\s+(?:[A-Z][A-Za-z]*\.?,?\s*)?"
    r"(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\d{1,2}\s+[A-Z][a-z]{2,8}\.?)?"
    r"\s*(?:\([A-Za-z]+\)\s*)?(?:--|[-–—])\s*|"
    # the same with the place in title case and the wire's credit ("Cairo, Egypt (CNN)--"),
    # and a wire's time stamp before its dateline ("2009 06 19 22:54 JST WASHINGTON ...")
    r"[A-Z][a-z]+(?: [A-Z][a-z]+)*, [A-Z][a-z]+(?: [A-Z][a-z]+)*\s*\([A-Z][A-Za-z]+\)\s*"
    r"(?:--|[-–—])\s*|\d{4} \d\d \d\d \d\d:\d\d [A-Z]{2,4}\s+(?=[A-Z]{2})|"
    # a shouted heading is two words in capitals or more ("NEW CAP FOR LEAKING OIL WELL In
    # June"), or one that is a wire's credit or a word, not an acronym ("AP In what ...",
    # "UNLIKELY The collapse ..."); an acronym before a capitalised word is the subject's own
    # ("BP Chief Executive Tony Hayward", "WHO Director-General Margaret Chan", "ING
    # Direct"): without it the entry loses who
    r"[\\*•·\-–—\s]+|\(\w+\)\s*[-–—]\s*|(?:[A-Z][A-Z.,'’&]+\s+){2,}(?=[A-Z][a-z])|"
    r"(?:AP|AFP|UPI|Reuters|[A-Z]{5,})\s+(?=[A-Z][a-z])|"
    r"[A-Z][A-Z .,'’]+(?:\([A-Za-z]+\))?\s*(?:--|[-–—:])\s*)+"
)
# What is left around a removed date: "On , X" / "X on ." / "April 28 - X".
_ORPHAN_LEAD = re.compile(
    r"^\s*(?:/\d{1,2}\b)?\s*(?:(?:on|in|at|by)\s+)?(?:[,:;]|\s[-–—]|--|[-–—](?=\s))?\s*")
_ORPHAN_ON = re.compile(r"\s*,?\s+(?:on|in|at)(?:\s+the)?\s*(?=[,.;]|$|\s[,.;])")
# A date that is one end of a range or one of a list ("on Wednesday to Friday", "hearings on
# Tuesday and Thursday"): without it the rest of the range reads as the whole. (A dash is
# not looked at: "May 16 - BP succeeds ..." is a chronology's heading.)
_RANGE_AFTER = re.compile(
    r"^\s*(?:to|until|till|through|thru|and|or)\s+(?:the\s+)?"
    r"(?:\d|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b)")
# After "on Monday, March 16," the comma closes the date, or sets off what follows it; when
# what follows goes on with the same clause ("at the town hall", "with a mediator", "when
# Hitler invaded"), the comma goes with the date. Before anything else ("the union said")
# it stays.
_CLAUSE_GOES_ON = re.compile(
    r"^,\s+(?=(?:at|in|on|with|without|to|from|near|outside|inside|during|following|amid|"
    r"after|before|when|where|while)\b)", re.IGNORECASE)
# Credits in front of a sentence ("(Download Audio File) On March 12, 1933, ..."):
# trim_statement drops them; a date after them opens the sentence.
_ONLY_CREDITS = re.compile(r"[-–—*•\s]*(?:\((?:[^()]|\([^()]*\)){1,80}\)\s*)*")
# A word that modifies the date itself: "reached a deal late on Wednesday after three days"
# would read "reached a deal late after three days" without its date, so the date stays.
_DATE_MODIFIER = re.compile(
    r"\b(?:late|early|earlier|later|just|only|shortly|soon|right|until|till|from|as|than)\s*$",
    re.IGNORECASE)


# A relative date that stands alone as an adverb ("Olmert announced yesterday that ...",
# "Taylor was found guilty last month"): the entry shows its date, and the word left in the
# text would contradict the label once the page is read another day.
_ADVERB_DATE = re.compile(
    r"(?i:yesterday|today|tonight|last night|this (?:morning|afternoon|evening)|"
    r"(?:last|this) (?:week|month|year))")
# ... but not when a word before it makes it part of what is said: "since last week",
# "than last year", "of this week".
_KEEPS_DATE = re.compile(
    r"\b(?:since|until|till|before|after|from|than|of|to|through|during|for|between|and|or|"
    r"over|within|as|the|a)\s*$", re.IGNORECASE)


_POSSESSIVE = re.compile(r"['’]s\b")
# A date that opens its sentence as its subject, before the verb ("Halloween is the
# scariest night of the year", "Monday was the first full week ...", "Thursday marks the
# start ..."): without it the sentence has none.
_SUBJECT_DATE = re.compile(r"^\s+(?:is|was|are|were|has|had|marks|marked|saw|sees|will)\b")


def strip_dates(sentence: str, spans: list[tuple[int, int]]) -> str:
    """The sentence without the date expressions at ``spans`` (character offsets) that only
    date it: an entry shows its date beside the text, so "On April 20, BP ..." reads "BP ...".
    Dates after "since", "until", "before" and the like stay: they carry meaning."""
    out = sentence
    for start, end in sorted(spans, reverse=True):
        before = out[:start]
        if _RANGE_AFTER.match(out[end:]) or _POSSESSIVE.match(out[end:]):
            continue  # "Yesterday's meeting", "Tuesday's fire": the date names the thing
        if inside_quotation(before):
            continue  # a quotation is given as said: '"Today belongs to ...," Obama said'
        prep = re.search(r"(?:^|\s)(on|in|at|by)\s+(?:the\s+)?$", before, re.IGNORECASE)
        if start == 0 or before.strip(" *-–—\\") == "":
            if _SUBJECT_DATE.match(out[end:]):
                continue  # the date is the subject: "Halloween is the scariest night ..."
            out = _ORPHAN_LEAD.sub("", out[end:], count=1)
        elif prep is not None:
            head = before[: prep.start()]
            if _DATE_MODIFIER.search(head):
                continue  # "late on Wednesday": without the day, "late" dangles
            # "on Sunday morning": the part of the day goes with the day.
            tail = re.sub(r"^\s+(?:morning|afternoon|evening|night)\b", "", out[end:])
            if _ONLY_CREDITS.fullmatch(head):
                out = f"{head} {_ORPHAN_LEAD.sub('', tail, count=1)}"
            else:
                out = head + _CLAUSE_GOES_ON.sub(" ", tail, count=1)
        elif (_ADVERB_DATE.fullmatch(out[start:end])
              and not _KEEPS_DATE.search(before) and not _DATE_MODIFIER.search(before)):
            out = before + _CLAUSE_GOES_ON.sub(" ", out[end:], count=1)
        else:
            continue
    out = re.sub(r"\s{2,}", " ", out)
    out = re.sub(r"\s+([,.;:])", r"\1", out)
    # "..., British ambassador to the UN, on Wednesday." loses the comma with the date
    out = re.sub(r",\s*([.;:!?])", r"\1", out)
    out = re.sub(r",\s*,", ",", out).strip(" ,")
    return out


def trim_statement(sentence: str) -> str:
    """The sentence as a stand-alone entry: datelines and linking openers dropped, first
    letter raised. Attribution ("Officials said ...") is kept: it is part of what the
    source claims. HTML entities a feed left in its text are decoded ("R&amp;B"), as the
    summary's sentences are (``analysis.strip_dateline``)."""
    if "&" in sentence:
        sentence = html.unescape(sentence)
    text = _LIVE_STAMP.sub("", _LEAD_SEPARATOR.sub("", sentence.strip()), count=1)
    text = _PAGE_STAMP.sub("", text, count=1)
    text = _LEAD_JUNK.sub("", _LEAD_CREDITS.sub("", text, count=1))
    text = without_section_heading(text)
    text = _FILLER.sub("", text.lstrip(" ,"))
    text = text.strip(" -–—").removeprefix("...").removeprefix("…").lstrip()
    if not text:
        return sentence.strip()
    return text[0].upper() + text[1:]


# Words that join names without saying anything of them: "Karen Yourish and Laura Stanton -
# The Washington Post", "Interview with CEO of PIMCO".
_JOINING_WORDS = wordset("a an the and or but nor of in on at to for from by with as into "
                         "over per via")
_ALPHA_WORD = re.compile(r"(?<![\w'’-])[A-Za-z][A-Za-z'’-]*")


def is_prose(sentence: str) -> bool:
    """Whether the sentence has a lower-case word other than a joining word: a verb or a
    common noun, as every sentence of prose has. A byline ("Fareed Zakaria Washington Post,
    August 12"), a listing ("Chris Brown O2 Arena, London, Sunday 11th"), a programme's
    heading ("... Aired February 6, 2011 - 06:00 ET THIS IS A RUSH TRANSCRIPT") or a shouted
    line has none; "Coast Guard Commandant Thad Allen retired Tuesday" has one."""
    return any(word[0].islower() and word not in _JOINING_WORDS
               for word in _ALPHA_WORD.findall(sentence))


def inside_quotation(before: str) -> bool:
    """Whether the text that follows ``before`` is inside a quotation it opened: curly
    marks left open, or an odd number of straight ones."""
    return (before.count("“") > before.count("”") or before.count('"') % 2 == 1
            or before.count("``") > before.count("''"))


def is_statement(sentence: str) -> bool:
    """Whether a sentence can describe an event on its own: declarative prose, not a
    question, not mostly a quotation, not a comment-thread or navigation line, neither a
    fragment nor a paragraph."""
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or not is_prose(sentence):
        return False
    stripped = sentence.rstrip(" \"'”’)")
    if stripped.endswith("?") or stripped.endswith(":"):
        return False
    if _NOISE.search(sentence):
        return False
    first = sentence.lstrip()[:2]
    if first and first[0] in "\"“'‘`":  # opens with a quotation: a voice, not an event
        return False
    quoted = sum(sentence.count(q) for q in _QUOTE_CHARS)  # ints
    return quoted < 3


def content_tokens(text: str) -> tuple[str, ...]:
    """Lower-cased, lightly stemmed content words, in order, stop-words and digits dropped."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        word = m.group().lower()
        if word in STOPWORDS or word.isdigit() or len(word) < 2:
            continue
        out.append(stem(word))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One dated sentence of one article that could become (part of) a timeline entry."""

    sentence: int
    statement: str
    span: TimeSpan
    stated: bool
    date_text: str
    tokens: tuple[str, ...]
    planned: bool = False  # about a day after the article's publication: a plan, not an event


def is_plan(span: TimeSpan, published: date | None) -> bool:
    """Whether a statement dated ``span`` in an article published on ``published`` is about
    the future: the whole period is after publication ("could fall by Wednesday" on a Monday,
    "the trial opens on June 5" in May). Nobody reports an event that has not happened yet."""
    return published is not None and span.start > published


# A date that dates something else than the sentence's main event:
# - the start or end of a period: "leaked since 22 April", "closed until May 17",
#   "following the January 25 rally", "since the rig exploded on 20 April";
_PERIOD_CUE = re.compile(r"\b(?:since|until|till|following)\b[^,;:()]{0,60}$", re.IGNORECASE)
# - a date naming a thing rather than dating the clause: "Tuesday's rally", "yesterday's
#   roadblock", "the January 25 rally", "the 11 April explosion";
_POSSESSIVE = re.compile(r"^['’]s\b")
_THE = re.compile(r"\bthe\s+$", re.IGNORECASE)
_NOUN_AFTER = re.compile(r"^\s+([a-z]+)\b")
_NOT_NOUNS = wordset(
    """and or but to of in on at by for with from as when while after before until since
    that which who where morning afternoon evening night he she it they we there this""")
_YEAR_END = re.compile(r"\d{4}$")
# - a thing named "of" its date: "the attacks of Sept. 11, 2001", "the shattering defeat of
#   June 1967"; not a part or a stretch of time, which dates the sentence ("on the night of
#   June 25", "the first half of August", "for much of Tuesday"), nor "as of".
_OF_DATE = re.compile(r"\bthe\s+((?:[a-z]+\s+){1,3})of\s+$")
_NOT_NAMED = wordset(
    """morning afternoon evening night day days week weeks weekend month months year years
    end ends beginning start middle rest first last eve dawn hours course time times period
    date close turn half quarter part parts portion remainder bulk much most all some many
    early late latter second third fourth summer spring winter autumn fall as""") | _NOT_NOUNS
# - a date inside a relative clause set off by a comma: it dates the clause's referent, not
#   the sentence's event ("The oil spill, which began on April 20, has caused ...", "BP
#   faces fines from the spill, which began in April", "Liberia, where hundreds died in
#   June"); a clause closed before the date ("BP, which leased the rig, said on Monday")
#   is over;
_RELATIVE_CUE = re.compile(r",\s+(?:which|who|whose|where)\b[^,;:()]{0,80}$", re.IGNORECASE)
# - a date inside the subject, before the main verb: "Two men reported missing on Friday
#   were found safe on Sunday", "Protests that began on Tuesday have spread".
_VERB_AFTER = re.compile(
    r"^(?:\s+(?:morning|afternoon|evening|night))?\s+(?:were|was|is|are|has|have|had)\b")


# An interval a sentence states between its event and another it names: "two days after
# the explosion", "sank two days later", "the next day", "a week earlier".
_INTERVAL = re.compile(
    r"\b(?:(?P<n>\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?P<unit>days?|weeks?)\s+(?:after|later|before|earlier)"
    r"|the\s+(?:next|following)\s+(?P<unit2>day|week)"
    r"|the\s+(?P<unit3>day|week)\s+(?:after|before))\b", re.IGNORECASE)
_INTERVAL_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                     "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def stated_intervals(text: str) -> tuple[int, ...]:
    """The intervals in days that ``text`` states between two events, in order."""
    out: list[int] = []
    for m in _INTERVAL.finditer(text):
        n = m.group("n")
        count = (1 if n is None else int(n) if n.isdigit()
                 else _INTERVAL_NUMBERS[n.lower()])
        unit = (m.group("unit") or m.group("unit2") or m.group("unit3")).lower()
        out.append(count * (7 if unit.startswith("week") else 1))
    return tuple(out)


def background(mention: DateMention, sentence: str) -> bool:
    """Whether ``mention`` dates something else than the event ``sentence`` reports (the
    start of a period, a thing named by its date, a relative clause, a clause inside the
    subject)."""
    before, after = sentence[: mention.char_start], sentence[mention.char_end:]
    if _PERIOD_CUE.search(before) or _POSSESSIVE.match(after) or _RELATIVE_CUE.search(before):
        return True
    noun = _NOUN_AFTER.match(after)
    if noun is None and _YEAR_END.search(mention.text):
        # "the Sept. 11, 2001, attacks": the comma closes the year written in the middle of
        # the noun phrase, as AP style writes it, and the noun follows it
        noun = _NOUN_AFTER.match(after.removeprefix(","))
    if _THE.search(before) and noun is not None and noun.group(1) not in _NOT_NOUNS:
        return True
    named = _OF_DATE.search(before)
    if named is not None and not _NOT_NAMED.intersection(named.group(1).split()):
        return True
    # a subject before the date ("Two men reported missing on Friday were ..."), not an
    # opening adverbial ("On Friday was ..." is rare; "On Friday, ..." has its comma)
    return (_VERB_AFTER.match(after) is not None
            and len(before.split()) >= 2 and not before.rstrip().endswith(","))


def sentence_date(mentions: list[DateMention], sentence: str = "",
                  published: date | None = None) -> DateMention | None:
    """The date of the event a sentence reports, among the dates it mentions: not one that
    dates something else (:func:`background`); one the article could report on (not after
    its ``published`` day: "On Friday, officials said the flow could be contained by
    Monday" is about Friday); then the most precise; then the first written. None when
    every date is background: the sentence does not say when its own event happened."""
    foreground = [m for m in mentions if not background(m, sentence)] if sentence else mentions
    if not foreground:
        return None
    return min(foreground, key=lambda d: (is_plan(d.span, published),
                                          PRECISION_RANK[d.span.precision], d.char_start))


def dated_candidates(facts: ArticleFacts, max_rank: int = PRECISION_RANK[DatePrecision.MONTH],
                     published: date | None = None) -> list[Candidate]:
    """Every statement-like sentence of the article with the date it is about, in sentence
    order; dates coarser than ``max_rank`` (quarters, years) are too vague for an entry. With
    the article's ``published`` day, statements about a later day are marked as plans."""
    by_sentence: dict[int, list[DateMention]] = {}
    mentions: dict[int, list[DateMention]] = {}
    for mention in facts.dates:
        mentions.setdefault(mention.sentence, []).append(mention)
        if PRECISION_RANK[mention.span.precision] <= max_rank:
            by_sentence.setdefault(mention.sentence, []).append(mention)
    out: list[Candidate] = []
    for index in sorted(by_sentence):
        sentence = facts.sentences[index]
        if not is_statement(sentence):
            continue
        chosen = sentence_date(by_sentence[index], sentence, published)
        if chosen is None:
            continue
        mention = chosen
        # Only what states the entry's own date leaves the text (the page shows it beside
        # the entry). Background dates stay ("reported missing on Friday" says who), and so
        # do other days: "will walk off the job on Thursday, March 5, ..., their union said
        # on Tuesday" is the union's Tuesday, and without "on Thursday, March 5" the strike
        # would seem to start that Tuesday.
        # a caption reports what its picture shows, its positions left out (a caption
        # dropped as furniture took a gold statement of timeline17-dev with it)
        statement = without_picture_positions(trim_statement(strip_dates(sentence, [
            (m.char_start, m.char_end) for m in mentions[index]
            if m.span == mention.span and not background(m, sentence)])))
        if len(statement.split()) < MIN_WORDS:
            continue
        out.append(
            Candidate(
                sentence=index,
                statement=statement,
                span=mention.span,
                stated=mention.stated,
                date_text=mention.text,
                tokens=content_tokens(statement),
                planned=is_plan(mention.span, published),
            )
        )
    return out


# Trailing clauses that elaborate rather than state: "..., which ...", "..., saying ...".
_TAIL_CLAUSE = re.compile(
    r",\s+(?:which|who|whose|while|whereas|although|though|saying|adding|according to|"
    r"including|as well as|amid|despite|as)\b"
)
_TAIL_ATTRIBUTION = re.compile(
    r",\s+(?:\w+\s+){0,4}(?:said|says|told|reported|announced|added|according to)\b[^,]*$"
)


def compress_statement(statement: str, min_words: int = 8) -> str:
    """The statement without its trailing elaboration ("..., which ...", "..., officials
    said"), when what is left still has ``min_words`` words: a timeline entry is read next to
    others, its core clause is what it says."""
    out = statement
    attribution = _TAIL_ATTRIBUTION.search(out)
    if attribution is not None and len(out[: attribution.start()].split()) >= min_words:
        out = out[: attribution.start()].rstrip(" ,") + "."
    for m in _TAIL_CLAUSE.finditer(out):
        if len(out[: m.start()].split()) >= min_words:
            out = out[: m.start()].rstrip(" ,") + "."
            break
    return out
