"""What a hash set's category means, and what Homeward does with it: ONE table.

Sources for the numbers:
- Project VIC (VICS 1.x and 2.0, US/Canada/Default data models): 0 Non-Pertinent, 1 Child Abuse
  Material (CAM), 2 Child Exploitive (Non-CAM) Age Difficult, 3 CGI/Animation - Child
  Exploitive, 4 Comparison Images. As Autopsy's image gallery defines the Project VIC tag set
  (sleuthkit/autopsy, ImageGalleryService.java, "kept in sync with the CountryManager code in
  the ProjectVic module"); IPED's hash database importer reads 1.3 files the same way (0 known,
  1 and 2 child abuse). The older DHS scheme (0 uncategorised ... 5 non-pertinent) is not what
  VICS files carry. A Media record whose Category is null or absent is uncategorised.
- CAID (UK, VICS 2.0 ".../2.0.xml/UK/..."): CAID grades by the UK sentencing categories A, B
  and C, but the mapping of its VICS Category numbers is shared only under agreement and no
  public source states it; CAID numbers are kept verbatim and treated as unknown (below).
- NSRL RDS: known software files (NIST), all non-pertinent.
- Plain lists: the examiner names the category at import (`--category`).

Policy, for a missing-persons face search:
- ignorable = known non-pertinent: face analysis may be skipped by default. Only Project VIC 0,
  NSRL and lists imported as "known".
- priority = known victim material: flagged for priority review. Project VIC 1 and 2, lists
  imported as "priority".
- Everything else, including comparison images (they often show an identified victim's face),
  CGI, uncategorised and any number this table does not know, is neither: it is analysed and
  reviewed as usual. An unknown meaning never lets a file be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str  # as stored with each hash: "projectvic:1", "caid:2", "nsrl", "list:known"
    label: str
    ignorable: bool
    priority: bool


CATEGORIES: dict[str, Category] = {c.key: c for c in (
    Category("projectvic:0", "Project VIC 0: non-pertinent", True, False),
    Category("projectvic:1", "Project VIC 1: child abuse material (CAM)", False, True),
    Category("projectvic:2", "Project VIC 2: child exploitive (non-CAM), age difficult", False, True),
    Category("projectvic:3", "Project VIC 3: CGI/animation, child exploitive", False, False),
    Category("projectvic:4", "Project VIC 4: comparison images", False, False),
    Category("projectvic:none", "Project VIC: uncategorised", False, False),
    Category("caid:none", "CAID: uncategorised", False, False),
    Category("nsrl", "NSRL: known software file", True, False),
    Category("list:known", "known, non-pertinent (examiner's list)", True, False),
    Category("list:notable", "notable (examiner's list)", False, False),
    Category("list:priority", "known victim material (examiner's list)", False, True),
)}

LIST_CATEGORIES = ("known", "notable", "priority")


def describe(key: str) -> Category:
    """The table's entry; a key it does not know is shown as such and is neither ignorable nor
    priority (an unknown meaning must never let a file go unanalysed)."""
    found = CATEGORIES.get(key)
    if found is not None:
        return found
    scheme, _, number = key.partition(":")
    source = {"projectvic": "Project VIC", "caid": "CAID"}.get(scheme, scheme)
    return Category(key, f"{source} category {number} (meaning not in Homeward's table)", False, False)
