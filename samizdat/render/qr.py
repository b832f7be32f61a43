"""QR codes of page addresses: `pages/<channel>/<id>.md.png`, read by phones from a screen.

zxing-cpp draws the symbol and Pillow writes the PNG: about 0.7 ms a code against segno's 6 ms
(segno writes PNG in pure Python), for the same 4-pixel modules, 2-module border, level M and
a PNG of the same size. A full `build` of a few thousand pages is where that shows. segno, a
declared dependency, is the fallback when zxing-cpp is not installed. Both give the same bytes
for the same address on every run.
"""

from __future__ import annotations

import io
from types import ModuleType

SCALE = 4  # pixels per module, as `qrencode -s 4` in the original pipeline
BORDER = 2  # modules of quiet zone; phones read 2 fine off a screen, and the image stays small
ERROR_LEVEL = "M"
# Grey to black and white: a table, as a lambda would be called 256 times for every code.
_THRESHOLD = [255 if v > 127 else 0 for v in range(256)]


def qr_png(data: str) -> bytes:
    """A black-on-white PNG QR code of `data` (UTF-8)."""
    try:
        import zxingcpp
    except ImportError:
        return _segno_png(data)
    return _zxing_png(zxingcpp, data)


def _zxing_png(zxingcpp: ModuleType, data: str) -> bytes:
    from PIL import Image

    barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_LEVEL)
    pixels = memoryview(barcode.to_image(scale=SCALE, add_quiet_zones=False))
    height, width = pixels.shape[0], pixels.shape[1]
    symbol = Image.frombytes("L", (width, height), pixels.tobytes())
    margin = BORDER * SCALE
    canvas = Image.new("1", (width + 2 * margin, height + 2 * margin), 1)
    canvas.paste(symbol.point(_THRESHOLD, mode="1"), (margin, margin))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _segno_png(data: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(data, error=ERROR_LEVEL.lower(), micro=False, boost_error=False).save(
        out, kind="png", scale=SCALE, border=BORDER
    )
    return out.getvalue()
