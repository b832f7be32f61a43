"""QR codes of page addresses: `pages/<channel>/<id>.md.png`, read by phones from a screen.

zxing-cpp draws the symbol (its module matrix, one byte a module) and the PNG is written here
from that matrix: a 1-bit greyscale image, each module SCALE pixels square, rows unfiltered,
one zlib stream. A QR code is so simple an image that Pillow's general path (an 8-bit image,
a threshold, a paste onto a canvas, its encoder's setup) cost twice what drawing the symbol
did: 0.42 ms a code here against 0.68 ms with Pillow, for the same pixels (4-pixel modules,
2-module border, level M) in a slightly smaller file. A full `build` rewrites one per article,
so that shows. segno, a declared dependency, is the fallback when zxing-cpp is not installed.
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
# PNG a 1 bit is white. One module is SCALE bits of a row.
_BITS = str.maketrans({"\x00": "0" * SCALE, "\xff": "1" * SCALE})
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
    modules = matrix.shape[1]
    return _png_1bit(matrix.tobytes().decode("latin-1"), modules)


def _png_1bit(matrix: str, modules: int) -> bytes:
    """The PNG of a square `modules`-wide matrix (one char a module, "\\x00" dark, "\\xff"
    light, row after row), scaled and bordered."""
    side = (modules + 2 * BORDER) * SCALE
    stride = (side + 7) // 8
    margin = "1" * (BORDER * SCALE)
    padding = "0" * (stride * 8 - side)  # a row ends on a byte boundary

    def row(bits: str) -> bytes:
        return b"\0" + int(bits, 2).to_bytes(stride, "big")  # filter type 0: none

    blank = row("1" * side + padding)
    rows = [blank] * (BORDER * SCALE)
    for y in range(0, modules * modules, modules):
        line = row(margin + matrix[y : y + modules].translate(_BITS) + margin + padding)
        rows += [line] * SCALE
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
