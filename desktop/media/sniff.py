"""What a seized file really is, from its first bytes, never from its name.

Suspects rename files (``holiday.mp4`` -> ``invoice.dat``) and carving tools recover files with
no name at all, so the scan routes files by content: a few magic bytes at the start decide
``kind`` ("image", "video" or "other") and a format name. Only the header is read, read-only.

ISO base media files (MP4, MOV, 3GP, HEIC, AVIF, CR3) share one container; their ``ftyp``
brands decide image vs video: the major brand if it is known, else the first known compatible
brand. HEIF/AVIF brands mean an image (a still, or a burst/animation whose first image is
decoded); MP4/QuickTime/3GP brands mean a video; M4A-family brands mean audio ("other"). An
``ftyp`` with no known brand is still reported as a video ("ISOBMFF"): vendor brands are
mostly cameras and phones, and trying the decoder costs less than skipping evidence.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from desktop.errors import UnreadableMedia
from desktop.sources.opener import EvidenceRefused, open_evidence

log = logging.getLogger(__name__)

# Enough for the ftyp box with its brand list and for three MPEG-TS/M2TS packets (188/192 B).
HEADER_BYTES = 512

Kind = Literal["image", "video", "other"]


@dataclass(frozen=True)
class MediaType:
    """The type a file's content declares: what the scan routes on."""

    kind: Kind
    format: str  # "JPEG", "HEIC", "MP4", "MKV", ..., "unknown", or "empty"


_IMAGE_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"), "HEIC"),
    **dict.fromkeys((b"mif1", b"mif2", b"msf1", b"miaf"), "HEIF"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    b"crx ": "CR3",  # Canon raw
}
_VIDEO_BRANDS = {
    b"qt  ": "MOV",
    b"caqv": "MOV",  # Canon PowerShot QuickTime
    **dict.fromkeys((b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
                     b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"f4v ",
                     b"mmp4", b"MSNV", b"NDAS", b"XAVC", b"FACE"), "MP4"),
}
_AUDIO_BRANDS = dict.fromkeys((b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "), "M4A")
# QuickTime files written before ftyp existed (older cameras) start straight with an atom.
_BARE_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_JP2_SIGNATURE = bytes.fromhex("0000000c6a5020200d0a870a")
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_NETPBM = re.compile(rb"P[1-6]\s+[#\d]")


def sniff(path: Path | str) -> MediaType:
    """Type of the file at ``path`` by content; UnreadableMedia if it cannot be read at all."""
    with open_readonly(Path(path)) as handle:
        try:
            head = handle.read(HEADER_BYTES)
        except OSError as e:
            raise UnreadableMedia("cannot read file", f"{path}: {e.strerror or e}") from e
    return sniff_bytes(head)


def open_readonly(path: Path) -> BinaryIO:
    """The evidence opener (desktop.sources), its failures as UnreadableMedia for the scan."""
    try:
        return open_evidence(path)
    except EvidenceRefused as e:
        raise UnreadableMedia(e.message, e.detail) from e
    except OSError as e:
        raise UnreadableMedia("cannot read file", f"{path}: {e.strerror or e}") from e


def sniff_bytes(head: bytes) -> MediaType:
    """Type of content whose first bytes (ideally HEADER_BYTES of them) are ``head``."""
    if not head:
        return MediaType("other", "empty")
    for test in (_still_image, _iso_bmff, _other_container):
        found = test(head)
        if found is not None:
            return found
    return MediaType("other", "unknown")


def _still_image(head: bytes) -> MediaType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType("image", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaType("image", "GIF")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF; DNG too
        return MediaType("image", "TIFF")
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return MediaType("image", "BMP")  # "BM" alone is too weak: check the DIB header size
    if head.startswith(_JP2_SIGNATURE) or head.startswith(b"\xff\x4f\xff\x51"):
        return MediaType("image", "JPEG2000")
    if head.startswith(b"8BPS"):
        return MediaType("image", "PSD")
    if _NETPBM.match(head):
        return MediaType("image", "PPM")
    return None


def _iso_bmff(head: bytes) -> MediaType | None:
    size = int.from_bytes(head[:4], "big")  # box size; 0 = to end of file, 1 = 64-bit size follows
    if head[4:8] in _BARE_QT_ATOMS and (size in (0, 1) or size >= 8):
        return MediaType("video", "MOV")
    if head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    end = len(head) if size == 0 else min(size, len(head))
    compatible = [head[i:i + 4] for i in range(16, end - 3, 4)]
    brands = [major, *compatible]
    for brand in brands:
        if brand in _IMAGE_BRANDS:
            return MediaType("image", _image_format(_IMAGE_BRANDS[brand], brands))
        if brand in _VIDEO_BRANDS:
            return MediaType("video", _VIDEO_BRANDS[brand])
        if brand[:3] in (b"3gp", b"3gg", b"3ge", b"3gr", b"3gs", b"3g2"):
            return MediaType("video", "3GP")
        if brand in _AUDIO_BRANDS:
            return MediaType("other", _AUDIO_BRANDS[brand])
    log.debug("unknown ftyp brands %r: treating as video", brands)
    return MediaType("video", "ISOBMFF")


def _image_format(generic: str, brands: list[bytes]) -> str:
    """A 'mif1' (generic HEIF) major brand is made specific by the codec brands listed with it."""
    if generic != "HEIF":
        return generic
    specific = {_IMAGE_BRANDS[b] for b in brands if b in _IMAGE_BRANDS} - {"HEIF"}
    return specific.pop() if len(specific) == 1 else generic


def _other_container(head: bytes) -> MediaType | None:
    if head[:4] == b"RIFF":
        form = head[8:12]
        if form == b"WEBP":
            return MediaType("image", "WEBP")
        if form in (b"AVI ", b"AVIX"):
            return MediaType("video", "AVI")
        return MediaType("other", "WAV" if form == b"WAVE" else "RIFF")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML; the DocType element names the flavour
        return MediaType("video", "WEBM" if b"webm" in head[:64] else "MKV")
    if head.startswith(_ASF_GUID):
        return MediaType("video", "ASF")  # WMV; WMA is the same container
    if head.startswith(b"FLV\x01"):
        return MediaType("video", "FLV")
    if head.startswith(b".RMF"):
        return MediaType("video", "RM")
    if head.startswith(b"OggS"):
        return MediaType("video", "OGV") if b"\x80theora" in head else MediaType("other", "OGG")
    if head.startswith(b"\x00\x00\x01\xba"):
        return MediaType("video", "MPEG-PS")  # also DVD VOB
    if head.startswith(b"\x00\x00\x01\xb3"):
        return MediaType("video", "MPEG")  # MPEG-1/2 elementary video stream
    if _packets_at(head, 0, 188):
        return MediaType("video", "MPEG-TS")
    if _packets_at(head, 4, 192):
        return MediaType("video", "M2TS")  # AVCHD camcorders (.mts), Blu-ray
    return _annex_b(head)


def _packets_at(head: bytes, first: int, step: int) -> bool:
    """MPEG-TS sync byte 0x47 at the start of at least two (three if present) packets."""
    offsets = [first + k * step for k in range(3) if first + k * step < len(head)]
    return len(offsets) >= 2 and all(head[o] == 0x47 for o in offsets)


def _annex_b(head: bytes) -> MediaType | None:
    """Raw H.264/H.265 streams (CCTV/DVR exports) open with a start code then SPS/VPS/AUD."""
    if head.startswith(b"\x00\x00\x00\x01"):
        nal = head[4:6]
    elif head.startswith(b"\x00\x00\x01"):
        nal = head[3:5]
    else:
        return None
    if len(nal) < 2 or nal[0] & 0x80:  # forbidden_zero_bit
        return None
    if nal[0] & 0x1F in (7, 9):  # H.264 SPS, access unit delimiter
        return MediaType("video", "H264")
    if (nal[0] >> 1) & 0x3F in (32, 35) and nal[1] & 0x07:  # H.265 VPS, AUD; temporal id >= 1
        return MediaType("video", "HEVC")
    return None
