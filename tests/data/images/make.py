"""Generate the image fixtures for tests/test_images.py (committed; run again only to change them).

python tests/data/images/make.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent


def photo(width: int, height: int) -> Image.Image:
    """Smooth gradients and a few shapes: compresses like a soft photo, stays a few KB."""
    image = Image.linear_gradient("L").resize((width, height))
    rgb = Image.merge(
        "RGB",
        (
            image,
            image.transpose(Image.Transpose.ROTATE_90).resize((width, height)),
            image.point(lambda v: 255 - v),
        ),
    )
    draw = ImageDraw.Draw(rgb)
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(200, 60, 40))
    draw.rectangle((width * 2 // 3, height // 3, width - 20, height - 20), fill=(30, 120, 200))
    return rgb


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main() -> None:
    # A photo wider than the tests' max_width (400), so it must be resized.
    photo(900, 600).save(HERE / "photo.jpg", quality=40)

    # EXIF with camera and GPS data, and Orientation 6 (shown rotated 90° clockwise).
    exif = Image.Exif()
    exif[0x010F] = "SourceCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber
    exif[0x0112] = 6  # Orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (39.0, 54.0, 0.0)
    gps[3], gps[4] = "E", (116.0, 23.0, 0.0)
    photo(300, 200).save(HERE / "exif.jpg", quality=50, exif=exif)

    # RGBA with a transparent background and a half-transparent ring.
    rgba = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(rgba)
    draw.ellipse((40, 10, 140, 110), fill=(220, 30, 30, 255), outline=(0, 0, 0, 128), width=6)
    rgba.save(HERE / "transparent.png")

    # A palette bar chart: few colours, must stay lossless.
    chart = Image.new("P", (240, 160), 0)
    chart.putpalette([255, 255, 255, 40, 90, 160, 200, 80, 40, 0, 0, 0])
    draw = ImageDraw.Draw(chart)
    for i, h in enumerate((60, 100, 80, 140)):
        draw.rectangle((20 + i * 55, 155 - h, 60 + i * 55, 155), fill=1 + i % 2)
    draw.line((10, 155, 230, 155), fill=3, width=2)
    chart.save(HERE / "chart.png", optimize=True)

    # An animated GIF: 4 frames, 150 ms each, looping.
    frames = []
    for i in range(4):
        frame = Image.new("P", (120, 80), 0)
        frame.putpalette([250, 250, 250, 200, 30, 30, 30, 30, 200, 20, 160, 20])
        ImageDraw.Draw(frame).rectangle((10 + i * 25, 20, 30 + i * 25, 60), fill=1 + i % 3)
        frames.append(frame)
    frames[0].save(
        HERE / "animated.gif", save_all=True, append_images=frames[1:], duration=150, loop=0
    )

    # A decompression bomb: a valid PNG header claiming 100000 x 100000 pixels, tiny IDAT.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    bomb += png_chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + png_chunk(b"IEND", b"")
    (HERE / "bomb.png").write_bytes(bomb)

    (HERE / "script.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        '<script>alert(document.cookie)</script><circle cx="50" cy="50" r="40"/></svg>\n'
    )
    (HERE / "page.html").write_text(
        "<!doctype html><html><body><p>Not an image</p></body></html>\n"
    )


if __name__ == "__main__":
    main()
