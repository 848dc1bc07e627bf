"""The gallery database: persons, their reference photos and embeddings, and their history.

A gallery is `NAME.db` plus `NAME.store/`, where reference photos are copied under their
SHA-256 (a photo given twice is stored once). Every change to a person appends a row to
`person_history`, which triggers keep append-only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from desktop.gallery.fields import EDITABLE, InvalidField, PersonFields
from desktop.storage.database import open_database, transaction, utc_now
from desktop.storage.gallery_schema import GALLERY_APPLICATION_ID, MIGRATIONS


@dataclass(frozen=True)
class FaceRecord:
    """A chosen face and its embedding under one pack, ready to store."""

    box: list[float]
    landmarks: list[list[float]]
    det_score: float
    quality: dict[str, object]
    vector: np.ndarray


@dataclass(frozen=True)
class PhotoRecord:
    source: Path
    sha256: str
    width: int
    height: int
    photo_date: str | None
    face: FaceRecord


def largest_box(boxes: Sequence[Sequence[float]]) -> int:
    """Index of the largest box by area: a photo's subject more often than not."""
    areas = [(float(b[2]) - float(b[0])) * (float(b[3]) - float(b[1])) for b in boxes]
    return areas.index(max(areas))


@dataclass(frozen=True)
class PendingRecord:
    """A photo with several faces, to keep until the investigator chooses one."""

    source: Path
    sha256: str
    width: int
    height: int
    photo_date: str | None
    face_boxes: list[list[float]]  # every face found, left to right (face 1 is the leftmost)


@dataclass(frozen=True)
class PendingPhoto:
    """A stored photo awaiting the choice of its person's face (`homeward gallery pending`)."""

    id: int
    person_id: int
    person_name: str
    original_path: str
    stored_name: str
    sha256: str
    width: int
    height: int
    photo_date: str | None
    face_boxes: list[list[float]]
    added_at: str

    @property
    def faces(self) -> int:
        return len(self.face_boxes)

    @property
    def largest_face(self) -> int:
        """The number (from 1, left to right) of the largest face."""
        return largest_box(self.face_boxes) + 1

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "person_id": self.person_id, "name": self.person_name,
                "photo": self.original_path, "faces": self.faces,
                "largest_face": self.largest_face, "face_boxes": self.face_boxes,
                "added_at": self.added_at}


class Gallery:
    """One open gallery file. Not thread-safe: one writer, as SQLite wants."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path
        self.store = path.with_suffix(".store")

    @classmethod
    def create(cls, path: Path) -> Gallery:
        path = Path(path)
        gallery = cls(open_database(path, MIGRATIONS, "gallery",
                                    application_id=GALLERY_APPLICATION_ID, create=True), path)
        gallery.store.mkdir(exist_ok=True)
        return gallery

    @classmethod
    def open(cls, path: Path) -> Gallery:
        path = Path(path)
        return cls(open_database(path, MIGRATIONS, "gallery",
                                 application_id=GALLERY_APPLICATION_ID), path)

    def close(self) -> None:
        self.db.conn.close()

    @property
    def identity(self) -> str:
        """The id stored in this gallery file (copies share it; another gallery never does)."""
        return next(self.db.query("SELECT value FROM gallery_info WHERE key = 'gallery_id'"))["value"]

    def fingerprint(self, pack_id: str) -> str:
        """SHA-256 of what a scan matches against: persons' ids and names, and every embedding
        of the pack (recorded with each scan, so its hits can be traced to this state)."""
        digest = hashlib.sha256()
        for row in self.db.query("SELECT id, name FROM persons ORDER BY id"):
            digest.update(f"{row['id']}\x00{row['name']}\x00".encode())
        for row in self.db.query(
                "SELECT p.person_id, e.photo_id, e.recognizer_sha256, e.vector FROM embeddings e "
                "JOIN photos p ON p.id = e.photo_id WHERE e.pack_id = ? ORDER BY e.photo_id",
                [pack_id]):
            digest.update(f"{row['person_id']}\x00{row['photo_id']}\x00{row['recognizer_sha256']}"
                          .encode())
            digest.update(row["vector"])
        return digest.hexdigest()

    # --- writing, inside a transaction -------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_Writer]:
        """One atomic change: on any error the database and the store are as before."""
        writer = _Writer(self)
        try:
            with transaction(self.db):
                yield writer
        except BaseException:
            writer.discard_new_files()
            raise

    def remove_person(self, person_id: int, actor: str) -> None:
        """Remove a person (the history keeps a record) and store copies no one else uses."""
        hashes = [p["sha256"] for p in self.photos(person_id)] + [
            p.sha256 for p in self.pending(person_id)]
        with self.writing() as write:
            write.remove_person(person_id, actor)
        remove_unreferenced_files(self, hashes)

    def remove_photo(self, photo_id: int, actor: str) -> dict:
        """Remove one reference photo (recorded in the history); returns its row."""
        with self.writing() as write:
            photo = write.remove_photo(photo_id, actor)
        remove_unreferenced_files(self, [photo["sha256"]])
        return photo

    # --- reading ------------------------------------------------------------------------------

    def person(self, person_id: int) -> dict:
        rows = list(self.db.query("SELECT * FROM persons WHERE id = ?", [person_id]))
        if not rows:
            raise InvalidField(f"No person with id {person_id} in this gallery.")
        row = rows[0]
        row["aliases"] = json.loads(row["aliases"])
        return row

    def person_fields(self, person_id: int) -> PersonFields:
        """The person's case data as an import would give it (to add photos to them)."""
        row = self.person(person_id)
        return PersonFields(**{k: tuple(row[k]) if k == "aliases" else row[k] for k in EDITABLE})

    def persons(self) -> list[dict]:
        """Every person with photo and face counts (faces = photos with an embedding)."""
        sql = """
            SELECT p.*, COUNT(DISTINCT ph.id) AS photos, COUNT(DISTINCT e.photo_id) AS faces
            FROM persons p LEFT JOIN photos ph ON ph.person_id = p.id
            LEFT JOIN embeddings e ON e.photo_id = ph.id
            GROUP BY p.id ORDER BY p.name COLLATE NOCASE, p.id"""
        rows = list(self.db.query(sql))
        for row in rows:
            row["aliases"] = json.loads(row["aliases"])
        return rows

    def persons_named(self, name: str) -> list[int]:
        return [r["id"] for r in self.db.query("SELECT id FROM persons WHERE name = ?", [name])]

    def photos(self, person_id: int | None = None) -> list[dict]:
        where, args = ("WHERE person_id = ?", [person_id]) if person_id is not None else ("", [])
        rows = list(self.db.query(f"SELECT * FROM photos {where} ORDER BY id", args))
        for row in rows:
            row["face_box"] = json.loads(row["face_box"])
            row["packs"] = [r["pack_id"] for r in self.db.query(
                "SELECT pack_id FROM embeddings WHERE photo_id = ? ORDER BY pack_id", [row["id"]])]
        return rows

    def history(self, person_id: int | None = None) -> list[dict]:
        where, args = ("WHERE person_id = ?", [person_id]) if person_id is not None else ("", [])
        rows = list(self.db.query(f"SELECT * FROM person_history {where} ORDER BY seq", args))
        for row in rows:
            row["details"] = json.loads(row["details"])
        return rows

    def has_photo(self, person_id: int, sha256: str) -> bool:
        """The person has this photo, as a reference or awaiting a face choice."""
        return bool(list(self.db.query(
            "SELECT 1 FROM photos WHERE person_id = ? AND sha256 = ? UNION ALL "
            "SELECT 1 FROM pending_photos WHERE person_id = ? AND sha256 = ?",
            [person_id, sha256, person_id, sha256])))

    def pending(self, person_id: int | None = None) -> list[PendingPhoto]:
        """Photos awaiting a face choice, oldest first."""
        where, args = ("WHERE q.person_id = ?", [person_id]) if person_id is not None else ("", [])
        return [PendingPhoto(
            id=r["id"], person_id=r["person_id"], person_name=r["name"],
            original_path=r["original_path"], stored_name=r["stored_name"], sha256=r["sha256"],
            width=r["width"], height=r["height"], photo_date=r["photo_date"],
            face_boxes=json.loads(r["face_boxes"]), added_at=r["added_at"])
            for r in self.db.query(
                f"SELECT q.*, p.name FROM pending_photos q JOIN persons p ON p.id = q.person_id "
                f"{where} ORDER BY q.id", args)]

    def pending_photo(self, pending_id: int) -> PendingPhoto:
        found = [p for p in self.pending() if p.id == pending_id]
        if not found:
            raise InvalidField(f"No photo awaiting a face choice with id {pending_id}.",
                               "see `homeward gallery pending`")
        return found[0]

    def stored_path(self, photo: dict) -> Path:
        return self.store / photo["stored_name"]

    def embeddings(self, pack_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(person ids, photo ids, vectors) of every embedding of one pack."""
        rows = list(self.db.query(
            "SELECT p.person_id, e.photo_id, e.dim, e.vector FROM embeddings e "
            "JOIN photos p ON p.id = e.photo_id WHERE e.pack_id = ? ORDER BY e.photo_id",
            [pack_id]))
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
        return (np.array([r["person_id"] for r in rows]), np.array([r["photo_id"] for r in rows]),
                vectors)

    def templates(self, pack_id: str) -> tuple[np.ndarray, np.ndarray]:
        """One L2-normalised mean embedding per person: robust to one poor reference photo."""
        person_ids, _, vectors = self.embeddings(pack_id)
        people = np.unique(person_ids)
        means = np.stack([vectors[person_ids == p].mean(axis=0) for p in people]) if len(people) \
            else np.zeros((0, 0), np.float32)
        if len(people):
            means /= np.linalg.norm(means, axis=1, keepdims=True)
        return people, means.astype(np.float32)


class _Writer:
    """The write operations of one transaction (see Gallery.writing)."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self.db = gallery.db
        self.new_files: list[Path] = []

    def _log(self, person_id: int, actor: str, action: str, details: dict) -> None:
        self.db.execute(
            "INSERT INTO person_history (person_id, at, actor, action, details) VALUES (?,?,?,?,?)",
            [person_id, utc_now(), actor, action, json.dumps(details, ensure_ascii=False)])

    def add_person(self, person: PersonFields, actor: str) -> int:
        now = utc_now()
        row = {**person.to_row(), "created_at": now, "updated_at": now}
        columns = ", ".join(row)
        cursor = self.db.execute(
            f"INSERT INTO persons ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()))
        person_id = int(cursor.lastrowid)
        self._log(person_id, actor, "created", person.to_dict())
        return person_id

    def edit_person(self, person_id: int, changes: dict[str, object], actor: str) -> dict:
        """Apply field changes; returns {field: [old, new]} of what really changed."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise InvalidField(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        current = self.gallery.person(person_id)
        fields = {k: current[k] for k in EDITABLE}
        fields["aliases"] = tuple(fields["aliases"])
        updated = PersonFields(**{**fields, **changes}).to_row()
        before = PersonFields(**fields).to_row()
        diff = {k: [before[k], updated[k]] for k in EDITABLE if before[k] != updated[k]}
        if diff:
            sets = ", ".join(f"{k} = ?" for k in diff)
            self.db.execute(f"UPDATE persons SET {sets}, updated_at = ? WHERE id = ?",
                            [updated[k] for k in diff] + [utc_now(), person_id])
            self._log(person_id, actor, "edited", diff)
        return diff

    def remove_person(self, person_id: int, actor: str) -> None:
        snapshot = self.gallery.person(person_id)
        photos = [p["sha256"] for p in self.gallery.photos(person_id)]
        self.db.execute("DELETE FROM persons WHERE id = ?", [person_id])
        self._log(person_id, actor, "removed", {"person": snapshot, "photos": photos})

    def remove_photo(self, photo_id: int, actor: str) -> dict:
        """Take one reference photo (and its embeddings) off a person; the history keeps
        what it was. Returns the photo's row (its sha256 names the store copy)."""
        rows = list(self.db.query("SELECT * FROM photos WHERE id = ?", [photo_id]))
        if not rows:
            raise InvalidField(f"No photo with id {photo_id} in this gallery.")
        photo = rows[0]
        self.db.execute("DELETE FROM photos WHERE id = ?", [photo_id])
        self._log(photo["person_id"], actor, "photo removed",
                  {"photo_id": photo_id, "sha256": photo["sha256"],
                   "original_path": photo["original_path"]})
        return photo

    def _store(self, source: Path, sha256: str) -> str:
        """Copy a photo into the store under its SHA-256 (once); returns its stored name."""
        stored_name = sha256 + source.suffix.lower()
        target = self.gallery.store / stored_name
        if not target.exists():
            self.gallery.store.mkdir(exist_ok=True)
            shutil.copyfile(source, target)
            self.new_files.append(target)
        return stored_name

    def add_pending(self, person_id: int, photo: PendingRecord, actor: str) -> int:
        """Keep a photo with several faces for the investigator's choice (stored now)."""
        stored_name = self._store(photo.source, photo.sha256)
        cursor = self.db.execute(
            "INSERT INTO pending_photos (person_id, sha256, stored_name, original_path, width, "
            "height, photo_date, face_boxes, added_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [person_id, photo.sha256, stored_name, str(photo.source), photo.width, photo.height,
             photo.photo_date, json.dumps(photo.face_boxes), utc_now()])
        pending_id = int(cursor.lastrowid)
        self._log(person_id, actor, "photo awaiting a face choice",
                  {"pending_id": pending_id, "sha256": photo.sha256,
                   "original_path": str(photo.source), "faces": len(photo.face_boxes)})
        return pending_id

    def resolve_pending(self, pending: PendingPhoto, face: FaceRecord, pack_id: str,
                        model_hashes: dict[str, str], actor: str) -> int:
        """The chosen face makes the pending photo a reference photo; returns its photo id."""
        self.db.execute("DELETE FROM pending_photos WHERE id = ?", [pending.id])
        return self.add_photo(pending.person_id, PhotoRecord(
            Path(pending.original_path), pending.sha256, pending.width, pending.height,
            pending.photo_date, face), pack_id, model_hashes, actor)

    def add_photo(self, person_id: int, photo: PhotoRecord, pack_id: str,
                  model_hashes: dict[str, str], actor: str) -> int:
        stored_name = self._store(photo.source, photo.sha256)
        cursor = self.db.execute(
            "INSERT INTO photos (person_id, sha256, stored_name, original_path, width, height, "
            "photo_date, face_box, added_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [person_id, photo.sha256, stored_name, str(photo.source), photo.width, photo.height,
             photo.photo_date, json.dumps(photo.face.box), utc_now()])
        photo_id = int(cursor.lastrowid)
        self.add_embedding(photo_id, photo.face, pack_id, model_hashes)
        self._log(person_id, actor, "photo added",
                  {"photo_id": photo_id, "sha256": photo.sha256, "original_path": str(photo.source)})
        return photo_id

    def add_embedding(self, photo_id: int, face: FaceRecord, pack_id: str,
                      model_hashes: dict[str, str]) -> None:
        vector = np.ascontiguousarray(face.vector, dtype=np.float32)
        self.db.execute(
            "INSERT OR REPLACE INTO embeddings (photo_id, pack_id, detector_sha256, "
            "recognizer_sha256, box, landmarks, det_score, quality, dim, vector, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [photo_id, pack_id, model_hashes["detector"], model_hashes["recognizer"],
             json.dumps(face.box), json.dumps(face.landmarks), face.det_score,
             json.dumps(face.quality), int(vector.shape[0]), vector.tobytes(), utc_now()])

    def discard_new_files(self) -> None:
        for path in self.new_files:
            path.unlink(missing_ok=True)


def remove_unreferenced_files(gallery: Gallery, candidates: Iterable[str]) -> None:
    """Delete store copies no photo row refers to any more (after a person or photo goes)."""
    for sha in set(candidates):
        if not list(gallery.db.query("SELECT 1 FROM photos WHERE sha256 = ? UNION ALL "
                                     "SELECT 1 FROM pending_photos WHERE sha256 = ?", [sha, sha])):
            for path in gallery.store.glob(f"{sha}.*"):
                path.unlink(missing_ok=True)
