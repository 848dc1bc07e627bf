"""Real archives built from real faces (../shared/facedata), for the archive-source tests and
the end-to-end scan tests. Each builder takes a destination folder and returns the path(s)
it made; nothing is committed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from conftest import FACEDATA, require_shared

# Fixed times (UTC) given to the folder's files, so listings can be checked against them.
MTIME = 1_600_000_000  # 2020-09-13T12:26:40Z, an even second (DOS times have 2 s steps)
BOMB_BYTES = 300 * 1000 * 1000


def face_folder(dest: Path, count: int = 8) -> Path:
    """A folder of `count` real face photos in two subfolders, one with a non-ASCII name;
    every file gets a distinct, known mtime (MTIME + 2 * i)."""
    require_shared()
    folder = dest / "faces"
    photos = sorted((FACEDATA / "lfw").rglob("*.jpg"))[::211][:count]
    for i, photo in enumerate(photos):
        sub = folder / ("people" if i % 2 else "Zoë's phone")
        sub.mkdir(parents=True, exist_ok=True)
        target = sub / photo.name
        shutil.copyfile(photo, target)
        os.utime(target, (MTIME + 2 * i, MTIME + 2 * i))
    return folder


def folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def make_zip(folder: Path, dest: Path, name: str = "evidence.zip") -> Path:
    """Python's zipfile: deflated members, the first one stored; DOS times only."""
    path = dest / name
    with zipfile.ZipFile(path, "w") as archive:
        for i, file in enumerate(folder_files(folder)):
            archive.write(file, file.relative_to(folder).as_posix(),
                          zipfile.ZIP_STORED if i == 0 else zipfile.ZIP_DEFLATED)
    return path


def make_zip_cli(folder: Path, dest: Path, name: str = "cli.zip", password: str | None = None) -> Path:
    """Info-ZIP's `zip -r` (it writes the extended-timestamp extra field, 0x5455); with a
    password, `zip -P` encrypts every member (traditional PKWARE encryption)."""
    path = dest / name
    command = ["zip", "-q", "-r"] + (["-P", password] if password else []) + [str(path), "."]
    subprocess.run(command, cwd=folder, check=True)
    return path


def make_tar(folder: Path, dest: Path, compression: str = "", name: str | None = None) -> Path:
    """A tar of the folder: compression "" (plain), "gz", "bz2" or "xz"."""
    path = dest / (name or ("evidence.tar" + (f".{compression}" if compression else "")))
    with tarfile.open(path, f"w:{compression}") as archive:
        for file in folder_files(folder):
            archive.add(file, file.relative_to(folder).as_posix())
    return path


class Zeros(io.RawIOBase):
    """`size` zero bytes, produced as read (a bomb member is never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _write_zeros_member(archive: zipfile.ZipFile, name: str, size: int) -> None:
    info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as out:
        zeros = Zeros(size)
        while chunk := zeros.read(1 << 20):
            out.write(chunk)


def make_zip_bomb(folder: Path, dest: Path) -> Path:
    """The folder's photos, then "bomb.bin": BOMB_BYTES zeros deflated to ~0.3 MB."""
    path = make_zip(folder, dest, "bomb.zip")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        _write_zeros_member(archive, "bomb.bin", BOMB_BYTES)
    return path


def make_tar_bomb(folder: Path, dest: Path) -> Path:
    """A tar.gz: "bomb.bin" (BOMB_BYTES zeros) first, then the folder's photos."""
    path = dest / "bomb.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("bomb.bin")
        info.size, info.mtime = BOMB_BYTES, MTIME
        archive.addfile(info, io.BufferedReader(Zeros(BOMB_BYTES)))
        for file in folder_files(folder):
            archive.add(file, file.relative_to(folder).as_posix())
    return path


def make_inflating_zip(folder: Path, dest: Path) -> Path:
    """The folder's photos, then "liar.bin", whose header declares 1,000 bytes while its
    deflated data inflates to 1 MiB (sizes patched in both headers)."""
    path = make_zip(folder, dest, "liar.zip")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("liar.bin", bytes(1 << 20))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local, central = archive.getinfo("liar.bin").header_offset, archive.start_dir
    while data[central + 46:central + 46 + 8] != b"liar.bin":
        central = data.find(b"PK\x01\x02", central + 46)
    declared = (1000).to_bytes(4, "little")
    data[local + 22:local + 26] = declared  # the local header's uncompressed size
    data[central + 24:central + 28] = declared  # the central directory's
    path.write_bytes(bytes(data))
    return path


def make_zip_slip(folder: Path, dest: Path) -> Path:
    """The folder's photos, plus members named to escape: "../evil.jpg", "/etc/evil.jpg",
    "C:/evil.jpg", "..\\..\\evil.jpg" and "a/../../evil.jpg" (each holding a photo)."""
    path = make_zip(folder, dest, "slip.zip")
    photo = folder_files(folder)[0].read_bytes()
    with zipfile.ZipFile(path, "a") as archive:
        for name in SLIP_NAMES:
            info = zipfile.ZipInfo("x", (2020, 1, 1, 0, 0, 0))
            info.filename = name  # ZipInfo() would rewrite some of these names
            archive.writestr(info, photo)
    return path


SLIP_NAMES = ("../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg", "..\\..\\evil.jpg", "a/../../evil.jpg")


def make_nested(folder: Path, dest: Path) -> Path:
    """outer.zip ⊃ inner.tar.gz ⊃ deep.zip ⊃ the folder's photos (and outer.zip also holds
    the photos directly): paths "inner.tar.gz/deep.zip/<rel>"."""
    work = dest / "nested-work"
    work.mkdir()
    deep = make_zip(folder, work, "deep.zip")
    stage = work / "stage"
    stage.mkdir()
    shutil.copyfile(deep, stage / "deep.zip")
    inner = make_tar(stage, work, "gz", "inner.tar.gz")
    outer = dest / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(inner, "inner.tar.gz")
        for file in folder_files(folder):
            archive.write(file, "direct/" + file.relative_to(folder).as_posix())
    shutil.rmtree(work)
    return outer


def make_nested_bomb(folder: Path, dest: Path, copies: int = 10) -> Path:
    """42.zip style: a zip holding `copies` copies of a zip holding `copies` copies of the
    folder's zip (the same archive many times over)."""
    leaf = make_zip(folder, dest, "leaf.zip").read_bytes()
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(copies):
            archive.writestr(f"leaf-{i}.zip", leaf)
    path = dest / "bomb42.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(copies):
            archive.writestr(f"middle-{i}.zip", middle.getvalue())
    (dest / "leaf.zip").unlink()
    return path


# --- UFDR ----------------------------------------------------------------------------------

UFDR_NS = "http://pa.cellebrite.com/report/2.0"
UFDR_CREATED = "2021-03-04T05:06:07.000+00:00"
UFDR_MODIFIED = "2022-08-09T10:11:12.500+02:00"
UFDR_ACCESSED = "2023-01-02T03:04:05.000+00:00"


def ufdr_device_path(rel: str) -> str:
    """The device path a UFDR built by make_ufdr gives the folder file `rel`."""
    return "/private/var/mobile/Media/DCIM/100APPLE/" + rel.replace("/", "_")


def ufdr_local_path(index: int, rel: str) -> str:
    return f"files\\Image\\{index:03d}_{rel.rsplit('/', 1)[-1]}"


def ufdr_report(folder: Path) -> str:
    """A report.xml in Cellebrite's schema (project/sourceExtractions/caseInformation/
    metadata/taggedFiles/file with accessInfo timestamps and a "Local Path" item) for the
    folder's files; the second file is marked deleted."""
    files = []
    for i, file in enumerate(folder_files(folder)):
        rel = file.relative_to(folder).as_posix()
        files.append(f"""
    <file fs="Apple iPhone 7 (A1778)" fsid="6f1c0c3e-0000-4000-8000-00000000000{i % 10}"
          path="{ufdr_device_path(rel)}" size="{file.stat().st_size}" id="f-{i}" extractionId="0"
          deleted="{'Deleted' if i == 1 else 'Intact'}" embedded="false" isrelated="False">
      <accessInfo>
        <timestamp name="CreationTime" format="TimeStampKnown">{UFDR_CREATED}</timestamp>
        <timestamp name="ModifyTime" format="TimeStampKnown">{UFDR_MODIFIED}</timestamp>
        <timestamp name="AccessTime" format="TimeStampKnown">{UFDR_ACCESSED}</timestamp>
      </accessInfo>
      <metadata section="File">
        <item name="Local Path"><![CDATA[{ufdr_local_path(i, rel)}]]></item>
        <item name="Tags"><![CDATA[Image]]></item>
      </metadata>
    </file>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<project id="7c1a2b3d-0000-4000-8000-000000000001" name="Seized iPhone" reportVersion="7.40.0.1"
         licenseID="0000" containsGarbage="False" extractionType="AdvancedLogical"
         xmlns="{UFDR_NS}">
  <sourceExtractions>
    <extractionInfo id="0" name="Advanced Logical" isCustomName="False" type="AdvancedLogical"
        deviceName="Apple iPhone 7 (A1778)" fullName="Cellebrite UFED Reports" index="0"
        IsPartialData="False" />
  </sourceExtractions>
  <caseInformation>
    <field name="Examiner name" isSystem="True" fieldType="ExaminerName">Det. A. Smith</field>
    <field name="Case number" isSystem="True" fieldType="CaseNumber">2024-0042</field>
  </caseInformation>
  <metadata section="Additional Fields">
    <item name="UFED_PA_Version"><![CDATA[7.40.0.1]]></item>
  </metadata>
  <metadata section="Extraction Data">
    <item name="DeviceInfoExtractionStartDateTime" sourceExtraction="0"><![CDATA[03/04/2021 05:00:00]]></item>
    <item name="DeviceInfoSelectedManufacturer" sourceExtraction="0"><![CDATA[Apple]]></item>
    <item name="DeviceInfoUnitVersion" sourceExtraction="0"><![CDATA[7.40.0.1]]></item>
  </metadata>
  <metadata section="Device Info">
    <item name="DeviceInfoDetectedModel" sourceExtraction="0"><![CDATA[iPhone 7]]></item>
  </metadata>
  <taggedFiles>{"".join(files)}
  </taggedFiles>
  <decodedData>
    <modelType type="Chat"><model type="Chat" id="c-1" deleted_state="Intact"/></modelType>
  </decodedData>
</project>
"""


def make_ufdr(folder: Path, dest: Path, name: str = "phone.ufdr", report: str | bytes | None = None,
              extra: dict[str, bytes] | None = None) -> Path:
    """A UFDR-shaped zip: report.xml (ufdr_report, or `report`) and each folder file at its
    Local Path (files/Image/...), plus `extra` members the report does not name."""
    path = dest / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.xml", ufdr_report(folder) if report is None else report)
        for i, file in enumerate(folder_files(folder)):
            rel = file.relative_to(folder).as_posix()
            archive.write(file, ufdr_local_path(i, rel).replace("\\", "/"))
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return path


def make_protected_ufdr(folder: Path, dest: Path) -> Path:
    """A UFDR whose members, report.xml included, are encrypted (`zip -P`)."""
    stage = dest / "ufdr-stage"
    stage.mkdir()
    (stage / "report.xml").write_text(ufdr_report(folder), encoding="utf-8")
    for i, file in enumerate(folder_files(folder)):
        target = stage / ufdr_local_path(i, file.relative_to(folder).as_posix()).replace("\\", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    path = make_zip_cli(stage, dest, "protected.ufdr", password="secret")
    shutil.rmtree(stage)
    return path


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE project [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<project id="x"><caseInformation><field name="Examiner name">&lol9;</field></caseInformation>
</project>
"""
