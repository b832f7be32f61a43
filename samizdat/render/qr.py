"""QR codes of page addresses: `pages/<channel>/<id>.md.png`, read by phones from a screen.

zxing-cpp draws the symbol (its module matrix, one byte a module) and the PNG is written here
from that matrix: a 1-bit greyscale image, each module SCALE pixels square, rows unfiltered,
one zlib stream. A QR code is so simple an image that Pillow's general path (an 8-bit image,
a threshold, a paste onto a canvas, its encoder's setup) cost more than drawing the symbol:
a code takes 0.25 ms here (zxing-cpp's encoding 0.13–0.19 ms, this PNG 0.07 ms) where the
Pillow path took 0.68 ms, for the same pixels (4-pixel modules, 2-module border, level M) in a
slightly smaller file. A base-URL change redraws one per article, so that shows. segno, a declared dependency, is the fallback when zxing-cpp is not installed.
Both give the same bytes for the same address on every run (zlib is deterministic).
"""

from __future__ import annotations

import io
import struct
import zlib
from types import ModuleType

SCALE = 4  # pixels per module, as `qrencode -s 4` in the original pipeline
BORDER = 2  # modules of quiet zone; phones read 2 fine off a screen, and the image stays small
ERROR_LEVEL = "M"
# zxing-cpp's matrix has 0 for a dark module and 255 for a light one; in a 1-bit greyscale
# PNG a 1 bit is white. A row is packed one bit a module, then each byte of that widened to
# SCALE bytes by table: one lookup per 8 modules rather than a string op per module.
_BITS = bytes.maketrans(b"\x00\xff", b"01")
_WIDEN = [int("".join(c * SCALE for c in f"{b:08b}"), 2).to_bytes(SCALE, "big") for b in range(256)]
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def qr_png(data: str) -> bytes:
    """A black-on-white PNG QR code of `data` (UTF-8)."""
    try:
        import zxingcpp
    except ImportError:
        return _segno_png(data)
    return _zxing_png(zxingcpp, data)


def _zxing_png(zxingcpp: ModuleType, data: str) -> bytes:
    barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_LEVEL)
    matrix = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))
    return _png_1bit(matrix.tobytes(), matrix.shape[1])


def _png_1bit(matrix: bytes, modules: int) -> bytes:
    """The PNG of a square `modules`-wide matrix (one byte a module, 0 dark, 255 light, row
    after row), scaled and bordered."""
    width = modules + 2 * BORDER
    side = width * SCALE
    stride = (side + 7) // 8  # bytes a row of pixels
    octets = -(-width // 8)  # bytes a row of modules, one bit each
    margin = b"1" * BORDER
    padding = b"0" * (octets * 8 - width)  # a row ends on a byte boundary, padded with 0 bits
    bits = matrix.translate(_BITS)

    def row(modules_bits: bytes) -> bytes:
        packed = int(modules_bits + padding, 2).to_bytes(octets, "big")
        return b"\0" + b"".join([_WIDEN[octet] for octet in packed])[:stride]  # filter 0: none

    blank = row(b"1" * width)
    rows = [blank] * (BORDER * SCALE)
    for y in range(0, modules * modules, modules):
        rows += [row(margin + bits[y : y + modules] + margin)] * SCALE
    rows += [blank] * (BORDER * SCALE)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale, no interlace
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _segno_png(data: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(data, error=ERROR_LEVEL.lower(), micro=False, boost_error=False).save(
        out, kind="png", scale=SCALE, border=BORDER
    )
    return out.getvalue()
