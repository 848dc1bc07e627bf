"""The lab index: clusters of many cases, so the same unknown person is found across cases.

A case is registered explicitly: its clusters' templates (the L2-normalised mean of each
cluster's good faces) are copied into one SQLite file (in the user data folder, or on a
shared volume where a lab keeps one), and the registration is a fact on both sides: an audit
row in the case's sealed record naming the index, and a row of the index's append-only log
naming that audit row. Only cases of one pack and one set of models share an index: vectors
of different embedding spaces are never compared. What the index finds are investigative
leads for human review, not identifications.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from desktop.engine.pack_store import InstalledPack, resolve_pack
from desktop.errors import HomewardError
from desktop.people.case_people import pack_params
from desktop.people.link_review import PENDING, LinkKey, link_status, with_decision
from desktop.people.params import is_good
from desktop.people.search import FaceIndex, unit_rows
from desktop.storage.database import open_database, transaction, utc_now
from desktop.storage.lab_schema import LAB_APPLICATION_ID, MIGRATIONS
from desktop.storage.lock import CaseBusy, case_writer, holder, write_lock
from desktop.storage.record import sealed
from desktop.userdirs import data_dir

KIND = "lab index"

class LabIndexError(HomewardError):
    """A lab index is missing, unusable, or cannot take this case."""


@dataclass(frozen=True)
class CaseEntry:
    """What the index keeps of a case (from its case_info)."""

    case_id: str
    case_number: str
    folder: str
    pack_id: str
    model_hashes: dict[str, str]


@dataclass(frozen=True)
class Template:
    cluster_id: int
    faces: int  # every face of the cluster, low-quality ones included
    vector: np.ndarray  # unit length


@dataclass(frozen=True)
class Registration:
    index: str
    index_id: str
    case_id: str
    clusters: int  # templates stored
    without_template: int  # clusters of low-quality faces only: not comparable, not stored
    replaced: bool  # the case was registered before (its old entries were replaced)


@dataclass(frozen=True)
class RegisteredCase:
    case_id: str
    case_number: str
    folder: str
    pack_id: str
    model_hashes: dict[str, str]
    clusters: int
    faces: int
    registered_at: str
    registered_by: str


@dataclass(frozen=True)
class Link:
    """A cluster of this case like a cluster of another registered case: a lead to review,
    with the latest reviewer's decision on it (people/link_review.py)."""

    cluster_id: int
    other_case_id: str
    other_case_number: str
    other_cluster_id: int
    score: float
    status: str = PENDING  # or the latest decision's verdict: confirm, reject, unsure
    reviewer: str | None = None
    note: str | None = None
    decided_at: str | None = None

    @property
    def key(self) -> LinkKey:
        return (self.cluster_id, self.other_case_id, self.other_cluster_id)

    @property
    def text_key(self) -> str:
        """The key a person or a script names the link by: CLUSTER:OTHER_CASE_ID:ITS_CLUSTER."""
        return ":".join(map(str, self.key))


@dataclass(frozen=True)
class ClusterHit:
    case_id: str
    case_number: str
    case_folder: str
    cluster_id: int
    faces: int
    score: float


def default_index_path() -> Path:
    return data_dir() / "lab_index.db"


def link_threshold(pack: InstalledPack) -> float:
    """The default template-to-template threshold of a pack's embedding space."""
    try:
        return pack_params(pack).template_link
    except ValueError as exc:
        raise LabIndexError(f"No cross-case threshold for pack {pack.id!r}.",
                            "give one with --threshold") from exc


# --- a case's templates -------------------------------------------------------------------------

def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def case_templates(db: sqlite_utils.Database) -> tuple[list[Template], int]:
    """One template per cluster of a case, and how many clusters had no good face for one.

    A photo face counts when good (`is_good`); a video track counts once, by its template."""
    vectors: dict[int, list[np.ndarray]] = defaultdict(list)
    for row in db.query("SELECT m.cluster_id, f.quality, f.embedding FROM cluster_members m "
                        "JOIN faces f ON f.id = m.face_id WHERE f.track_id IS NULL"):
        if is_good(json.loads(row["quality"])):
            vectors[row["cluster_id"]].append(_vector(row["embedding"]))
    for row in db.query("SELECT DISTINCT m.cluster_id, t.id, t.embedding FROM cluster_members m "
                        "JOIN faces f ON f.id = m.face_id JOIN tracks t ON t.id = f.track_id"):
        vectors[row["cluster_id"]].append(_vector(row["embedding"]))
    counts = {r["cluster_id"]: r["n"] for r in db.query(
        "SELECT cluster_id, COUNT(*) AS n FROM cluster_members GROUP BY cluster_id")}
    templates = [Template(cid, counts[cid], unit_rows(unit_rows(np.stack(vectors[cid])).mean(
        axis=0, keepdims=True))[0]) for cid in sorted(counts) if vectors[cid]]
    return templates, len(counts) - len(templates)


# --- opening the index --------------------------------------------------------------------------

def _missing(path: Path) -> LabIndexError:
    return LabIndexError(f"No lab index at {path}.",
                         "register a case to it first: homeward lab register --case DIR")


def _open(path: Path, create: bool) -> sqlite_utils.Database:
    if not path.exists():
        if not create:
            raise _missing(path)
        if not path.parent.is_dir():
            raise LabIndexError(f"Cannot create a lab index at {path}: {path.parent} is not a "
                                "folder.")
        return open_database(path, MIGRATIONS, KIND, application_id=LAB_APPLICATION_ID,
                             create=True, wal=False)
    # A lab keeps its index on a shared volume: no WAL (its shared memory is per machine).
    return open_database(path, MIGRATIONS, KIND, application_id=LAB_APPLICATION_ID, wal=False)


@contextmanager
def reading(path: Path) -> Iterator[sqlite_utils.Database]:
    """An existing lab index, to read (no lock: WAL readers do not block its writer)."""
    db = _open(Path(path), create=False)
    try:
        yield db
    finally:
        db.conn.close()


@contextmanager
def _writing(path: Path, create: bool) -> Iterator[sqlite_utils.Database]:
    """The index under its one-writer lock (refused at once, naming who holds it)."""
    path = Path(path)
    lock = f"{path}.lock"
    with ExitStack() as stack:
        if not create and not path.exists():
            raise _missing(path)  # before the lock: leave no lock file beside nothing
        if path.parent.is_dir():
            try:
                stack.enter_context(write_lock(lock))
            except CaseBusy as exc:
                raise LabIndexError(f"The lab index {path} is being written by {holder(lock)}.",
                                    "wait until it finishes; one writer per lab index") from exc
        db = _open(path, create)
        stack.callback(db.conn.close)
        yield db


def _info(index: sqlite_utils.Database) -> str:
    return next(index.query("SELECT value FROM lab_info WHERE key = 'index_id'"))["value"]


def _hashes(hashes: dict[str, str]) -> str:
    return json.dumps(hashes, sort_keys=True)


def index_pack(index: sqlite_utils.Database) -> tuple[str, dict[str, str]] | None:
    """The pack id and model hashes of the cases registered (None: no case is)."""
    row = next(index.query("SELECT pack_id, model_hashes FROM cases LIMIT 1"), None)
    return None if row is None else (row["pack_id"], json.loads(row["model_hashes"]))


def _same_pack(index: sqlite_utils.Database, entry: CaseEntry, path: Path) -> None:
    held = index_pack(index)
    others = next(index.query("SELECT COUNT(*) AS n FROM cases WHERE case_id != ?",
                              [entry.case_id]))["n"]
    if held is not None and others and (held[0], _hashes(held[1])) != (
            entry.pack_id, _hashes(entry.model_hashes)):
        raise LabIndexError(
            f"Case {entry.case_number} was scanned with pack {entry.pack_id!r}; the lab index "
            f"{path} holds cases of pack {held[0]!r} (or other models). Faces of different "
            "packs are never compared.", f"keep a lab index per pack: --index PATH for "
            f"{entry.pack_id!r} cases")


def _case_audit_head(case_db: sqlite_utils.Database) -> dict:
    row = next(case_db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
    return {"case_audit_seq": row["seq"], "case_audit_hash": row["hash"]}


def _log(index: sqlite_utils.Database, actor: str, action: str, case_id: str,
         details: dict) -> None:
    index.execute("INSERT INTO log (at, actor, action, case_id, details) VALUES (?, ?, ?, ?, ?)",
                  [utc_now(), actor, action, case_id, json.dumps(details, ensure_ascii=False)])


# --- register, unregister -----------------------------------------------------------------------

def register_case(path: Path, entry: CaseEntry, case_db: sqlite_utils.Database,
                  examiner: str) -> Registration:
    """Copy the case's cluster templates into the index (replacing earlier ones), audited in
    the case's record and the index's log. Both writes land, or neither does: the index's
    transaction commits only after the case's audit row has."""
    path = Path(path).resolve()
    with case_writer(case_db), _writing(path, create=True) as index:
        _same_pack(index, entry, path)
        templates, without = case_templates(case_db)
        index_id = _info(index)
        now = utc_now()
        with transaction(index):
            replaced = index.execute("DELETE FROM cases WHERE case_id = ?",
                                     [entry.case_id]).rowcount > 0
            index.execute("DELETE FROM templates WHERE case_id = ?", [entry.case_id])
            index.execute("INSERT INTO cases (case_id, case_number, folder, pack_id, model_hashes, "
                          "registered_at, registered_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [entry.case_id, entry.case_number, entry.folder, entry.pack_id,
                           _hashes(entry.model_hashes), now, examiner])
            index.conn.executemany(
                "INSERT INTO templates (case_id, cluster_id, faces, dim, template) "
                "VALUES (?, ?, ?, ?, ?)",
                [(entry.case_id, t.cluster_id, t.faces, len(t.vector),
                  t.vector.astype(np.float32).tobytes()) for t in templates])
            details = {"index": str(path), "index_id": index_id, "clusters": len(templates),
                       "without_template": without, "replaced": replaced}
            with sealed(case_db, examiner, "lab index: registered", details):
                pass
            _log(index, examiner, "registered", entry.case_id,
                 {"case_number": entry.case_number, "folder": entry.folder,
                  "clusters": len(templates), "replaced": replaced, **_case_audit_head(case_db)})
    return Registration(str(path), index_id, entry.case_id, len(templates), without, replaced)


def unregister_case(path: Path, entry: CaseEntry, case_db: sqlite_utils.Database,
                    examiner: str) -> int:
    """Remove the case's entries from the index (audited on both sides); returns how many."""
    path = Path(path).resolve()
    with case_writer(case_db), _writing(path, create=False) as index:
        _require_registered(index, entry, path)
        index_id = _info(index)
        with transaction(index):
            removed = index.execute("DELETE FROM templates WHERE case_id = ?",
                                    [entry.case_id]).rowcount
            index.execute("DELETE FROM cases WHERE case_id = ?", [entry.case_id])
            with sealed(case_db, examiner, "lab index: unregistered",
                        {"index": str(path), "index_id": index_id, "clusters": removed}):
                pass
            _log(index, examiner, "unregistered", entry.case_id,
                 {"case_number": entry.case_number, "clusters": removed,
                  **_case_audit_head(case_db)})
    return removed


def _require_registered(index: sqlite_utils.Database, entry: CaseEntry, path: Path) -> None:
    if next(index.query("SELECT 1 AS x FROM cases WHERE case_id = ?", [entry.case_id]),
            None) is None:
        raise LabIndexError(f"Case {entry.case_number} is not registered in the lab index {path}.",
                            "register it first: homeward lab register --case DIR")


# --- reading ------------------------------------------------------------------------------------

def registered_cases(index: sqlite_utils.Database) -> list[RegisteredCase]:
    return [RegisteredCase(r["case_id"], r["case_number"], r["folder"], r["pack_id"],
                           json.loads(r["model_hashes"]), r["clusters"], r["faces"],
                           r["registered_at"], r["registered_by"])
            for r in index.query(
                "SELECT c.*, COUNT(t.cluster_id) AS clusters, IFNULL(SUM(t.faces), 0) AS faces "
                "FROM cases c LEFT JOIN templates t ON t.case_id = c.case_id "
                "GROUP BY c.case_id ORDER BY c.registered_at, c.case_id")]


def _templates(index: sqlite_utils.Database, where: str, args: list) -> list[dict]:
    return list(index.query(
        "SELECT t.case_id, c.case_number, c.folder, t.cluster_id, t.faces, t.template "
        f"FROM templates t JOIN cases c ON c.case_id = t.case_id WHERE {where} "
        "ORDER BY t.case_id, t.cluster_id", args))


def _face_index(rows: list[dict]) -> FaceIndex:
    return FaceIndex(np.arange(len(rows), dtype=np.int64),
                     np.stack([_vector(r["template"]) for r in rows]))


def is_current(index: sqlite_utils.Database, case_id: str, case_db: sqlite_utils.Database) -> bool:
    """Whether the case's clusters are still those registered (False after a new scan or
    work on its clusters: register again to refresh its entries)."""
    registered = {r["cluster_id"]: r["faces"] for r in index.query(
        "SELECT cluster_id, faces FROM templates WHERE case_id = ?", [case_id])}
    return registered == {t.cluster_id: t.faces for t in case_templates(case_db)[0]}


def case_links(path: Path, index: sqlite_utils.Database, entry: CaseEntry,
               case_db: sqlite_utils.Database, threshold: float) -> list[Link]:
    """Every (cluster of this case, cluster of another case) at or above threshold, best first,
    each with its latest decision in the case's record (pending without one)."""
    _require_registered(index, entry, path)
    mine = _templates(index, "t.case_id = ?", [entry.case_id])
    others = _templates(index, "t.case_id != ?", [entry.case_id])
    if not mine or not others:
        return []
    found = _face_index(others)
    decided = link_status(case_db)
    links = [Link(row["cluster_id"], others[n]["case_id"], others[n]["case_number"],
                  others[n]["cluster_id"], round(score, 6))
             for row in mine for n, score in found.search(_vector(row["template"]), threshold)]
    return sorted((with_decision(k, decided.get(k.key)) for k in links),
                  key=lambda k: (-k.score, k.cluster_id, k.other_case_number, k.other_case_id,
                                 k.other_cluster_id))


def search_index(index: sqlite_utils.Database, query: np.ndarray, threshold: float,
                 limit: int | None = None) -> list[ClusterHit]:
    """Every registered cluster at or above threshold to a face, best first."""
    rows = _templates(index, "1", [])
    if not rows:
        return []
    return [ClusterHit(rows[n]["case_id"], rows[n]["case_number"], rows[n]["folder"],
                       rows[n]["cluster_id"], rows[n]["faces"], round(score, 6))
            for n, score in _face_index(rows).search(np.asarray(query, np.float32), threshold,
                                                     limit)]


def registered_index_of(case_db: sqlite_utils.Database) -> Path | None:
    """The lab index this case was last registered in (None: never, or unregistered since)."""
    row = next(case_db.query("SELECT action, payload FROM audit WHERE action IN "
                             "('lab index: registered', 'lab index: unregistered') "
                             "ORDER BY seq DESC LIMIT 1"), None)
    if row is None or row["action"] != "lab index: registered":
        return None
    return Path(json.loads(row["payload"])["index"])


@dataclass(frozen=True)
class CaseLinks:
    """A registered case's links, read from the index it was last registered in."""

    index: Path
    links: list[Link]
    current: bool  # False: the case's clusters changed since it was registered


def registered_links(case_db: sqlite_utils.Database, entry: CaseEntry,
                     threshold: float | None = None) -> CaseLinks | None:
    """The case's links at `threshold` (default: its pack's), each with its decision; None: the
    case is not registered. A missing or unusable index raises LabIndexError."""
    path = registered_index_of(case_db)
    if path is None:
        return None
    if threshold is None:
        threshold = link_threshold(resolve_pack(entry.pack_id))
    with reading(path) as index:
        return CaseLinks(path, case_links(path, index, entry, case_db, threshold),
                         is_current(index, entry.case_id, case_db))


def refresh_after_scan(case_db: sqlite_utils.Database, entry: CaseEntry, pack: InstalledPack,
                       examiner: str) -> list[Link] | None:
    """After a scan of a registered case: its new clusters go to the index (audited) and its
    links to other cases come back, as leads for review. None: the case is not registered."""
    path = registered_index_of(case_db)
    if path is None:
        return None
    if not path.exists():  # moved or lost: say so, never start an empty one in its place
        raise _missing(path)
    register_case(path, entry, case_db, examiner)
    with reading(path) as index:
        return case_links(path, index, entry, case_db, link_threshold(pack))
