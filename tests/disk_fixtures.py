"""Disk images built with the real tools an examiner meets them from (mkfs.ext4 -d, mkfs.vfat
+ mtools, sfdisk, ewfacquire), holding real face photos from ../shared/facedata.

Plain functions: each takes a destination folder (and the folder of files to put inside) and
returns the image's path, so the scan's end-to-end tests can build the same images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import FACEDATA, require_shared

MTIME_BASE = 1_600_000_000  # whole seconds: mkfs.ext4 -d keeps seconds, not nanoseconds
_MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def photo_folder(dest: Path) -> Path:
    """Ten real face photos in two subfolders and the root, one with a non-ASCII name."""
    require_shared()
    people = FACEDATA / "face_recognition"
    picks = {
        "Obama/obama.jpg": people / "Barack_Obama" / "obama.jpg",
        "Obama/obama1.jpg": people / "Barack_Obama" / "obama1.jpg",
        "Obama/obama2.jpg": people / "Barack_Obama" / "obama2.jpg",
        "Biden/biden.jpg": people / "Joseph_Biden" / "biden.jpg",
        "Biden/biden2.jpg": people / "Joseph_Biden" / "biden2.jpg",
        "Élan_é.jpg": people / "Elon_Musk" / "test_unknown_elon_musk.jpg",
    }
    for photo in sorted((FACEDATA / "lfw" / "Aaron_Sorkin").glob("*.jpg"))[:2]:
        picks[f"Biden/{photo.name}"] = photo
    for photo in sorted((FACEDATA / "lfw" / "Abdullah").glob("*.jpg"))[:2]:
        picks[f"Obama/{photo.name}"] = photo
    for index, (rel, photo) in enumerate(sorted(picks.items())):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
        os.utime(target, (MTIME_BASE + index * 3600, MTIME_BASE + index * 3600))
    return dest


def _run(*command: str | Path, env: dict | None = None, check: bool = True) -> str:
    return subprocess.run([str(c) for c in command], check=check, capture_output=True, text=True,
                          env=env).stdout


def ext4_image(dest: Path, folder: Path, size_mb: int = 8) -> Path:
    """A bare ext4 file system (no partition table) holding `folder`'s files."""
    image = dest / "ext4.img"
    with open(image, "wb") as out:
        out.truncate(size_mb << 20)
    _run("mkfs.ext4", "-q", "-I", "256", "-d", folder, image)
    return image


def fat_image(dest: Path, folder: Path, delete: str | None = None, size_mb: int = 4) -> Path:
    """A bare FAT file system holding `folder`'s files (copied with mcopy); `delete`, a path
    inside, is then deleted with mdel: FAT keeps its data until overwritten."""
    image = dest / "fat.img"
    with open(image, "wb") as out:
        out.truncate(size_mb << 20)
    _run("mkfs.vfat", "-n", "PHOTOS", image)
    for sub in sorted(p for p in folder.rglob("*") if p.is_dir()):
        _run("mmd", "-i", image, f"::/{sub.relative_to(folder).as_posix()}", env=_MTOOLS)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        _run("mcopy", "-m", "-i", image, file, f"::/{file.relative_to(folder).as_posix()}", env=_MTOOLS)
    if delete:
        _run("mdel", "-i", image, f"::/{delete}", env=_MTOOLS)
    return image


def partitioned_image(dest: Path, fat_folder: Path, ext4_folder: Path, label: str = "dos") -> Path:
    """An MBR ("dos") or GPT ("gpt") disk made with sfdisk: a FAT partition at sector 2048,
    an ext4 one at sector 10240."""
    work = dest / "parts"
    work.mkdir()
    fat = fat_image(work, fat_folder, size_mb=4)
    ext = ext4_image(work, ext4_folder, size_mb=4)
    image = dest / f"disk-{label}.img"
    with open(image, "wb") as out:
        out.truncate(10 << 20)
    types = {"dos": ("c", "83"), "gpt": ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
                                         "0FC63DAF-8483-4772-8E79-3D69D8477DE4")}[label]
    layout = (f"label: {label}\nstart=2048, size=8192, type={types[0]}\n"
              f"start=10240, size=8192, type={types[1]}\n")
    subprocess.run(["sfdisk", "-q", str(image)], input=layout, text=True, check=True,
                   capture_output=True)
    with open(image, "r+b") as out:
        for part, sector in ((fat, 2048), (ext, 10240)):
            out.seek(sector * 512)
            out.write(part.read_bytes())
    shutil.rmtree(work)
    return image


def e01_image(dest: Path, raw: Path, segment_mb: int | None = None) -> Path:
    """An E01 acquired from `raw` by ewfacquire (uncompressed, MD5 + SHA-1, case metadata);
    `segment_mb` splits it into segment files (.E01, .E02...). Returns the first segment."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "evidence"
    _run("ewfacquire", "-u", "-q", "-t", target, "-c", "none", "-d", "sha1",
         "-C", "CASE-14/7", "-e", "Examiner Ada", "-E", "EV-001", "-D", "ext4 test disk",
         "-N", "built by tests", *(("-S", f"{segment_mb}MiB") if segment_mb else ()), raw)
    return dest / "evidence.E01"


def corrupt_e01(first_segment: Path, inside: bytes) -> Path:
    """Flip one byte of the chunk data holding `inside` (bytes of one file, stored
    uncompressed), in whichever segment file has it. Returns that segment file."""
    for segment in sorted(first_segment.parent.glob(first_segment.stem + ".E*")):
        data = bytearray(segment.read_bytes())
        at = data.find(inside)
        if at >= 0:
            data[at + len(inside) // 2] ^= 0xFF
            segment.write_bytes(bytes(data))
            return segment
    raise AssertionError("the bytes to corrupt are in no segment file")


def fls_regular_files(image: Path, offset_sectors: int = 0) -> list[str]:
    """`fls -r -p`'s regular files (name type r, or no name type and metadata type r),
    without FAT's volume label entry: what the disk source lists, by TSK's own tool."""
    listing = _run("fls", "-r", "-p", "-o", str(offset_sectors), image)
    found = []
    for line in listing.splitlines():
        kind, _, rest = line.partition(" ")
        name = rest.split("\t", 1)[1]
        if (kind.startswith("r/") or kind == "-/r") and not name.endswith("(Volume Label Entry)"):
            found.append(name)
    return sorted(found)


def mmls_slots(image: Path) -> list[tuple[int, int, int]]:
    """(address, start sector, length) of each allocated partition, as `mmls` shows them
    (none for an image without a partition table: mmls then fails)."""
    found = []
    for line in _run("mmls", image, check=False).splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0].endswith(":") and ":" in fields[1]:
            found.append((int(fields[0][:-1]), int(fields[2]), int(fields[4])))
    return found
