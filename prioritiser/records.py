"""The plain bibliographic record that readers yield and writers take.

Readers know nothing of projects: they turn a file into a list of :class:`Record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INCLUDE = "include"
EXCLUDE = "exclude"
MAYBE = "maybe"
DECISIONS = (INCLUDE, EXCLUDE, MAYBE)


@dataclass
class Record:
    """One bibliographic record as found in an input file.

    ``label`` is a decision carried by the file itself (``include``/``exclude``/``maybe``
    or ``None``). ``source_key`` is the file's own identifier for the record (a
    ``record_id`` column, a RIS ``ID`` tag), empty when there is none. ``position`` is the
    1-based index of the record in its file and ``line`` the 1-based line where it starts
    (0 where the format has no lines). ``extra`` keeps fields the project has no column for.
    """

    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str = ""
    pmid: str = ""
    keywords: list[str] = field(default_factory=list)
    journal: str = ""
    label: str | None = None
    source_key: str = ""
    position: int = 0
    line: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def has_text(self) -> bool:
        """True when the record has a title or an abstract to screen."""
        return bool(self.title.strip() or self.abstract.strip())

    @property
    def text(self) -> str:
        """The text the models read: the title on the first line (empty when there is none;
        feature extractors may weight it), then abstract and keywords."""
        rest = [self.abstract, "; ".join(self.keywords)]
        return "\n".join([" ".join(self.title.split()), *(p for p in rest if p)])
