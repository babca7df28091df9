"""Remove metadata from JPEG, PNG and GIF files by their structure, without decoding a pixel.

Each function keeps the bytes that carry the pixels and what a viewer needs to show them, and
drops everything that says who made the image, with what, when or where: EXIF (with GPS), XMP,
IPTC and Photoshop blocks, comments, text and time chunks, thumbnails, and anything after the
end of the image (a phone's appended video or depth map). Pixels stay exactly as they were.

Each returns None for a file whose structure it does not fully understand (truncated, a bad
checksum, an unusual coding); the caller then decodes and re-encodes it instead.
"""

from __future__ import annotations

import re
import zlib

# --- JPEG ---------------------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP14, _COM = 0xE0, 0xEE, 0xFE
_BASELINE_SOF = {0xC0, 0xC1, 0xC2}
"""Baseline, extended and progressive Huffman coding: what every browser and platform decodes.
Arithmetic coding, lossless and hierarchical JPEGs are re-encoded instead."""
_ALL_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_TABLES = {0xC4, 0xCC, 0xDB, 0xDD, 0xDC}   # DHT, DAC, DQT, DRI, DNL
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_without_metadata(data: bytes) -> bytes | None:
    """Keep the JFIF header (without its thumbnail), the Adobe colour marker and the coded image.

    Every APP1-APP13 and APP15 segment (EXIF, XMP, ICC profile, IPTC, MPF) and every comment
    is dropped, and the file ends at its end-of-image marker.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    pos, frame_seen = 2, False
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            return None
        while data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
            if pos + 2 > len(data):
                return None
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out) if frame_seen else None
        if pos + 4 > len(data):
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return None
        segment = data[pos:end]
        if marker in _ALL_SOF:
            if marker not in _BASELINE_SOF or frame_seen or length < 8 or data[pos + 4] != 8:
                return None  # another coding, 12-bit samples, or a second frame
            frame_seen = True
            out.append(segment)
        elif marker == _APP0:
            if segment[4:9] == b"JFIF\x00" and length >= 16:
                # version, units and density stay; the thumbnail's size goes to 0x0
                out.append(b"\xff\xe0\x00\x10" + segment[4:16] + b"\x00\x00")
        elif marker == _APP14:
            if segment[4:9] == b"Adobe":  # says how the colours were transformed
                out.append(segment)
        elif 0xE1 <= marker <= 0xEF or marker == _COM:
            pass
        elif marker in _TABLES:
            out.append(segment)
        elif marker == _SOS:
            if not frame_seen:
                return None
            found = _MARKER_IN_SCAN.search(data, end)
            if found is None:
                return None  # truncated: no marker after the coded data
            out.append(data[pos:found.start()])
            pos = found.start()
            continue
        else:
            return None  # a marker this walk does not know
        pos = end


# --- PNG ----------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT",
             b"pHYs", b"bKGD"}
"""Chunks that carry pixels or how to show them. iCCP is dropped: the caller keeps the file as
is only when its profile is sRGB (what every viewer assumes without one)."""


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """List (type, start, end) of every chunk up to IEND, checking each CRC; None if broken."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return None
        crc = int.from_bytes(data[end - 4:end], "big")
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            return None
        chunks.append((kind, pos, end))
        if kind == b"IEND":
            return chunks
        pos = end
    return None


def png_without_metadata(data: bytes) -> bytes | None:
    """Keep the chunks that show the image; drop text, time, EXIF, ICC and private chunks."""
    chunks = png_chunks(data)
    if chunks is None or chunks[0][0] != b"IHDR":
        return None
    if any(kind in (b"acTL", b"fcTL", b"fdAT") for kind, _, _ in chunks):
        return None  # animated: the caller makes a still of it
    return PNG_SIGNATURE + b"".join(data[start:end] for kind, start, end in chunks
                                    if kind in _PNG_KEPT)


# --- GIF ----------------------------------------------------------------------------------------

_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
"""The application extensions that say how often an animation loops; every other one (XMP,
ICC profiles, editors' own data) is dropped along with comments."""


def gif_without_metadata(data: bytes) -> bytes | None:
    """Keep the screen, colour tables, frames, frame timings and loop count; drop the rest."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    out = [data[:pos]]
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            out.append(b";")
            return b"".join(out)
        if block == 0x21:  # extension: label, then sub-blocks
            if pos + 2 > len(data):
                return None
            label = data[pos + 1]
            end = _sub_blocks_end(data, pos + 2)
            if end is None:
                return None
            first = data[pos + 3:pos + 3 + data[pos + 2]] if pos + 2 < len(data) else b""
            if label in (0xF9, 0x01) or (label == 0xFF and first in _LOOPING):
                out.append(data[pos:end])
            pos = end
        elif block == 0x2C:  # image descriptor, local colour table, LZW data
            if pos + 10 > len(data):
                return None
            local = data[pos + 9]
            start = pos + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1  # + LZW size
            end = _sub_blocks_end(data, start)
            if end is None:
                return None
            out.append(data[pos:end])
            pos = end
        else:
            return None
    return None  # no trailer: truncated


def _sub_blocks_end(data: bytes, pos: int) -> int | None:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos if pos <= len(data) else None
    return None
