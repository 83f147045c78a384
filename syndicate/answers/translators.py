"""The translators' workflow: extract the template, update, check and compile catalogs.

``extract`` runs Babel's own extraction over the package (interface strings) and the answers
folder (extractor ``syndicate_answers``) with the same mapping as the project's ``babel.cfg``,
so ``pybabel extract -F babel.cfg`` and ``syndicate i18n extract`` agree. Files are written
atomically and only when their bytes change; a catalog that cannot be read is reported with its
line and left exactly as it was.

Completeness is never taken from Babel's statistics (they count fuzzy entries as translated):
:mod:`.status` classifies every entry itself, and ``compile`` refuses to replace a ``.mo``
while :func:`check_language` reports an error for its language.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from .._files import write_atomic
from ..errors import CatalogError
from ._po import babel_read, load_po, po_syntax, read_messages, read_strict
from ._writer import keep_previous, previous_ids, render_po, restore_previous
from .catalogs import (
    DOMAIN,
    LanguageCatalog,
    babel_locale,
    catalog_path,
    cldr_plural_forms,
    language_catalog,
    same_plural_rule,
    template_path,
)

MAPPING_CFG = """\
[python: syndicate/**.py]
[syndicate_answers: content/**.md]
"""
"""The extraction mapping, as in the project's ``babel.cfg`` (a test keeps them equal).

The first folder of each pattern names a root: ``syndicate`` is the installed package,
``content`` the answers folder given to :func:`extract_template`.
"""

COMMENT_TAG = "Translators:"
"""Comments starting with this, right above a ``gettext`` call, go to the template as ``#.``
(``pybabel extract -c Translators:``)."""
PROJECT = "Syndicate"
VERSION = "0.1"
COPYRIGHT_HOLDER = "DiseaseMaps"
BUGS_ADDRESS = "translators@diseasemaps.example"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The installed ``syndicate`` package, whose interface strings are extracted."""

Severity = Literal["error", "warning"]


# -- writing files ---------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; ``False`` if it already held these bytes.

    A failure to write is a :class:`CatalogError` naming the file: the command line reports
    those as one error line, not a traceback.
    """
    try:
        return write_atomic(path, data, skip_unchanged=True)
    except OSError as exc:
        raise CatalogError(f"cannot write: {exc.strerror}", path=str(path)) from exc


# -- extract ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class MappingRule:
    """One section of the mapping: files under ``root`` matching ``pattern`` use ``method``."""

    root: str
    pattern: str
    method: str
    options: tuple[tuple[str, str], ...]


def mapping_rules(cfg: str = MAPPING_CFG) -> list[MappingRule]:
    """Parse a ``babel.cfg`` mapping with Babel's own parser, split into root and pattern."""
    method_map, options_map = parse_mapping_cfg(io.StringIO(cfg))  # type: ignore[no-untyped-call]
    rules = []
    for pattern, method in method_map:
        root, _, rest = pattern.partition("/")
        options = tuple(sorted(dict(options_map.get(pattern, {})).items()))
        rules.append(MappingRule(root, rest or "**", method, options))
    return rules


ExtractedMessage = tuple[str, int, Any, list[str], str | None]
"""``(file, line, message, comments, context)`` as Babel's extraction yields them."""


def extract_messages(content_dir: Path, package_dir: Path = PACKAGE_DIR) -> list[ExtractedMessage]:
    """Run Babel's extraction over the package and ``content_dir`` with :data:`MAPPING_CFG`;
    a file that cannot be read is a :class:`CatalogError` naming it.

    File names are given as ``syndicate/...`` and ``<content folder name>/...``, as
    ``pybabel extract`` run at the project's root writes them.
    """
    roots = {"syndicate": package_dir, "content": content_dir}
    found: list[ExtractedMessage] = []
    for rule in mapping_rules():
        if rule.root not in roots:
            raise CatalogError(f"mapping root {rule.root!r} is unknown", path="babel.cfg")
        root = roots[rule.root]
        prefix = PurePosixPath(package_dir.name if rule.root == "syndicate" else root.name)
        results = extract_from_dir(
            root,
            method_map=[(rule.pattern, rule.method)],
            options_map={rule.pattern: dict(rule.options)},
            keywords=DEFAULT_KEYWORDS,
            comment_tags=(COMMENT_TAG,),
            strip_comment_tags=True,
        )
        try:
            for filename, lineno, message, comments, context in results:
                found.append((str(prefix / filename), lineno, message, list(comments), context))
        except OSError as exc:
            raise CatalogError(f"cannot read: {exc.strerror}",
                               path=str(exc.filename or root)) from exc
    return found


def build_template(messages: Iterable[ExtractedMessage], creation_date: dt.datetime) -> Catalog:
    """The template catalog of extracted messages (pure)."""
    catalog = Catalog(
        project=PROJECT, version=VERSION, copyright_holder=COPYRIGHT_HOLDER,
        msgid_bugs_address=BUGS_ADDRESS, creation_date=creation_date, revision_date=None,
        charset="utf-8", fuzzy=True,
    )
    for filename, lineno, message, comments, context in messages:
        catalog.add(
            message, None, [(filename, lineno)], auto_comments=comments, context=context
        )
    return catalog


def extract_template(
    content_dir: Path,
    out: Path,
    *,
    now: dt.datetime,
    package_dir: Path = PACKAGE_DIR,
) -> bool:
    """Write the template to ``out``; ``False`` when nothing but the date would change.

    ``POT-Creation-Date`` keeps its old value while the messages are the same, so running
    ``extract`` twice gives identical bytes.
    """
    messages = extract_messages(content_dir, package_dir)
    previous = _creation_date(out)
    if previous is not None:
        same = render_po(build_template(messages, previous), template=True)
        if out.exists() and out.read_bytes() == same:
            return False
    return _write(out, render_po(build_template(messages, now), template=True))


def _creation_date(path: Path) -> dt.datetime | None:
    try:
        with path.open("rb") as handle:
            created = read_po(handle).creation_date
    except (OSError, ValueError, SyntaxError):
        return None
    return created if isinstance(created, dt.datetime) else None


# -- update ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did with one language's file."""

    language: str
    path: str
    action: Literal["written", "unchanged", "refused", "skipped"]
    problems: tuple[CheckProblem, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "language": self.language,
            "path": self.path,
            "action": self.action,
            "problems": [p.as_dict() for p in self.problems],
        }


def read_template(locales_dir: Path) -> Catalog:
    """The template (``.pot``) of ``locales_dir``; :class:`CatalogError` if unusable."""
    path = template_path(locales_dir)
    try:
        with path.open("rb") as handle:
            return read_po(handle, domain=DOMAIN, abort_invalid=True)
    except OSError as exc:
        raise CatalogError(f"cannot read template: {exc.strerror}", path=str(path)) from exc
    except (PoFileError, ValueError) as exc:
        line = int(getattr(exc, "lineno", -1)) + 1
        raise CatalogError(f"malformed template: {exc}", path=str(path), line=line) from exc


def merge(catalog: Catalog, template: Catalog) -> Catalog:
    """Merge ``template`` into ``catalog`` in place and return it.

    Babel's merge: a changed paragraph becomes fuzzy with its previous msgid kept, a new one
    is empty, one that left the template becomes obsolete (``#~``).
    """
    restore_previous(catalog)
    before = previous_ids(catalog)
    catalog.update(template, no_fuzzy_matching=False, update_creation_date=True)
    keep_previous(catalog, before)
    return catalog


def update_catalogs(locales_dir: Path, languages: Sequence[str]) -> list[Outcome]:
    """Merge the template into every language's catalog; unreadable catalogs are skipped."""
    template = read_template(locales_dir)
    outcomes = []
    for language in languages:
        try:
            path = catalog_path(locales_dir, language)
            if not path.exists():
                raise CatalogError(
                    f"no catalog for {language} yet: add the language with "
                    f"`syndicate i18n init {language}`", path=str(path))
            catalog, _, _ = load_po(path, language)
        except CatalogError as exc:
            outcomes.append(Outcome(language, exc.path, "skipped", (_from_error(exc, language),)))
            continue
        written = _write(path, render_po(merge(catalog, template)))
        outcomes.append(Outcome(language, str(path), "written" if written else "unchanged"))
    return outcomes


def init_catalog(locales_dir: Path, language: str, *, now: dt.datetime) -> Outcome:
    """Start the catalog of a new language from the template, as ``pybabel init`` does.

    The header names the language and carries CLDR's ``Plural-Forms`` for it (through
    Babel), and every message is empty. An existing catalog is never overwritten.
    """
    path = catalog_path(locales_dir, language)
    locale = babel_locale(language)
    if path.exists():
        return Outcome(language, str(path), "refused", (CheckProblem(
            str(path), 0, "-", f"{language} has a catalog already: "
            "`syndicate i18n update` merges the template into it", language=language),))
    catalog = read_template(locales_dir)
    catalog.locale = locale
    catalog.revision_date = now
    catalog.fuzzy = False
    catalog.language_team = f"{locale.english_name} <{BUGS_ADDRESS}>"
    catalog.last_translator = f"{PROJECT} translators <{BUGS_ADDRESS}>"
    catalog.header_comment = catalog.header_comment.replace(
        "FIRST AUTHOR <EMAIL@ADDRESS>", catalog.last_translator)
    _write(path, render_po(catalog))
    return Outcome(language, str(path), "written")


# -- check -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CheckProblem:
    """One thing wrong in a catalog, printed ``file:line: msgctxt: problem``."""

    path: str
    line: int
    context: str
    """The entry's msgctxt, ``-`` when it has none or the problem is about the whole file."""
    problem: str
    language: str = ""
    msgid: str = ""
    severity: Severity = "error"
    answer: str = ""
    """The answer's name, ``id (file)``, when the msgctxt is an answer's id."""

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.answer or self.context}: {tag}{self.problem}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return dataclasses.asdict(self)


def _from_error(exc: CatalogError, language: str) -> CheckProblem:
    return CheckProblem(exc.path, exc.line, "-", exc.message, language=language)


def _header_line(text: str, name: str) -> int:
    """Line of the header field ``name`` written at the start of a line; 1 if there is none."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f'"{name}:'):
            return number
    return 1


def catalog_problems(
    language_cat: LanguageCatalog, header_fuzzy: bool, text: str
) -> list[CheckProblem]:
    """Problems of a parsed catalog: its header, then every translated entry (pure)."""
    path, language = language_cat.path, language_cat.language
    found: list[CheckProblem] = []
    cldr = cldr_plural_forms(language_cat.locale)
    expression = getattr(language_cat.plural, "expression", "?")
    written = f"nplurals={language_cat.plural_count}; plural={expression};"
    if not same_plural_rule(language_cat, cldr):
        found.append(CheckProblem(
            path, _header_line(text, "Plural-Forms"), "-",
            f"Plural-Forms is {written!r} (gettext's rule) while CLDR's rule for "
            f"{language_cat.locale} is {cldr!r}: the catalog's rule is used, so its plural "
            f"messages need {language_cat.plural_count} forms",
            language=language, severity="warning",
        ))
    if header_fuzzy:
        found.append(
            CheckProblem(path, 1, "-", "header is marked fuzzy: tools will skip this catalog",
                         language=language, severity="warning")
        )
    for entry in sorted(language_cat.entries.values(), key=lambda e: e.line):
        for problem in entry.problems:
            found.append(CheckProblem(
                path, entry.line, entry.key[0] or "-", problem, language=language,
                msgid=entry.source[0],
                # A fuzzy entry is never published nor compiled: worth a look, not a block.
                severity="warning" if entry.fuzzy else "error",
            ))
    return found


def check_language(locales_dir: Path, language: str) -> list[CheckProblem]:
    """Every problem of one language's catalog, the unreadable file included."""
    try:
        path = catalog_path(locales_dir, language)
        locale = babel_locale(language)
        text, syntax = read_strict(path)
        messages = read_messages(text, syntax, language, path)
        parsed = language_catalog(
            messages or babel_read(text, language, path), text, syntax, path=path,
            language=language, locale=locale,
        )
    except CatalogError as exc:
        return _syntax_problems(exc, language) or [_from_error(exc, language)]
    first = syntax.messages[0] if syntax.messages else None
    has_header = first is not None and first.context is None and all(
        p == '""' for p in first.msgid)
    header_fuzzy = has_header and first is not None and first.fuzzy
    found = [] if has_header else [CheckProblem(
        str(path), 1, "-", 'the catalog has no header entry (msgid "" first, with '
        "Content-Type and Language): gettext tools refuse it", language=language)]
    return found + catalog_problems(parsed, header_fuzzy, text)


def _syntax_problems(exc: CatalogError, language: str) -> list[CheckProblem]:
    """Every syntax error of an unreadable file, each with its line (the error names the
    first only), as ``msgfmt`` lists them."""
    if not exc.message.startswith("malformed catalog") or not exc.line:
        return []
    try:
        syntax = po_syntax(Path(exc.path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []
    return [CheckProblem(exc.path, line, "-", f"malformed catalog: {problem}",
                         language=language) for line, problem in syntax.errors]


def check_catalogs(locales_dir: Path, languages: Sequence[str],
                   names: Mapping[str, str] | None = None) -> list[CheckProblem]:
    """Every problem of every language's catalog, language by language; ``names`` gives the
    name of each answer by id (see :func:`.status.answer_name`)."""
    return _named([problem for language in languages
                   for problem in check_language(locales_dir, language)], names)


def _named(found: list[CheckProblem], names: Mapping[str, str] | None) -> list[CheckProblem]:
    """Problems with the name of their answer, when ``names`` knows it."""
    if not names:
        return found
    return [dataclasses.replace(p, answer=names[p.context]) if p.context in names else p
            for p in found]


def errors_only(problems: Iterable[CheckProblem]) -> list[CheckProblem]:
    """The problems that block publishing and compiling."""
    return [p for p in problems if p.severity == "error"]


# -- compile ---------------------------------------------------------------------------------


def mo_path(locales_dir: Path, language: str) -> Path:
    """Where the compiled catalog of ``language`` goes."""
    return catalog_path(locales_dir, language).with_suffix(".mo")


def compile_catalogs(locales_dir: Path, languages: Sequence[str],
                     names: Mapping[str, str] | None = None) -> list[Outcome]:
    """Write each language's ``.mo`` unless :func:`check_language` finds an error.

    A refused language keeps its previous ``.mo`` untouched. Fuzzy entries are left out.
    """
    outcomes = []
    for language in languages:
        try:
            target = mo_path(locales_dir, language)
        except CatalogError as exc:
            outcomes.append(Outcome(language, exc.path, "refused", (_from_error(exc, language),)))
            continue
        problems = errors_only(_named(check_language(locales_dir, language), names))
        if problems:
            outcomes.append(Outcome(language, str(target), "refused", tuple(problems)))
            continue
        catalog, _, _ = load_po(catalog_path(locales_dir, language), language)
        out = io.BytesIO()
        write_mo(out, catalog, use_fuzzy=False)
        written = _write(target, out.getvalue())
        outcomes.append(Outcome(language, str(target), "written" if written else "unchanged"))
    return outcomes
