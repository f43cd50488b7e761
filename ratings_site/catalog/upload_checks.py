"""What an uploaded or imported file must satisfy before it is stored.

One job: decide whether bytes are a safe image, and read zip members without letting an
archive decide how much memory or time the web worker spends.

- The stored suffix comes from the decoded format, never from the uploaded name: a PNG named
  `evil.html` is stored as `.png` and served as `image/png`.
- Only the raster formats in ALLOWED_FORMATS are accepted; anything else is refused.
- Pixel count is checked from the header before the pixels are decoded (decompression bombs).
- Zip members are read through a bounded stream, whatever size the archive claims.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from . import errors

# Decoded format -> stored suffix. The keys are Pillow's format names.
ALLOWED_FORMATS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "BMP": ".bmp",
    "GIF": ".gif",
    "TIFF": ".tif",
    "WEBP": ".webp",
    "PPM": ".ppm",  # Pillow reads PGM and PPM as "PPM"
}
MIN_SIDE = 16


def limit(name: str) -> int:
    """Limits live in settings so a deployment can raise them; read per call for tests."""
    return int(getattr(settings, name))


@dataclass(frozen=True)
class CheckedImage:
    width: int
    height: int
    format: str

    @property
    def suffix(self) -> str:
        return ALLOWED_FORMATS[self.format]


def image_check(data: bytes) -> CheckedImage:
    """Return the decoded size and format, or raise ValidationError with the reason."""
    max_bytes = limit("IMPORT_MAX_FILE_BYTES")
    if len(data) > max_bytes:
        raise ValidationError(errors.FILE_TOO_LARGE.format(size=len(data), maximum=max_bytes))
    max_pixels = limit("IMPORT_MAX_PIXELS")
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size  # from the header; nothing decoded yet
            if fmt not in ALLOWED_FORMATS:
                raise ValidationError(errors.FORMAT_NOT_ALLOWED.format(format=fmt, allowed=", ".join(ALLOWED_FORMATS)))
            if width * height > max_pixels:
                raise ValidationError(errors.TOO_MANY_PIXELS.format(width=width, height=height, maximum=max_pixels))
            probe.verify()
        with PILImage.open(io.BytesIO(data)) as img:
            img.load()  # verify() misses truncated pixel data; load() does not
    except PILImage.DecompressionBombError as exc:
        # Pillow's own guard, for formats whose header hides the size until decoding.
        raise ValidationError(errors.DECOMPRESSION_BOMB.format(detail=exc))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(errors.NOT_AN_IMAGE.format(detail=str(exc) or type(exc).__name__))
    if min(width, height) < MIN_SIDE:
        raise ValidationError(errors.IMAGE_TOO_SMALL.format(width=width, height=height, minimum=MIN_SIDE))
    return CheckedImage(width, height, fmt)


def zip_members_check(members: list[zipfile.ZipInfo]) -> None:
    """Refuse an archive whose member count alone is too many to look at."""
    max_members = limit("IMPORT_MAX_ZIP_MEMBERS")
    if len(members) > max_members:
        raise ValidationError(errors.ZIP_TOO_MANY_MEMBERS.format(count=len(members), maximum=max_members))


def zip_member_read(zf: zipfile.ZipFile, member: zipfile.ZipInfo, *, budget_left: int) -> bytes:
    """Read one member, never more than the per-file limit or the archive's remaining budget.

    The declared size is checked first (cheap), then the stream is read with a cap, because a
    crafted archive can declare a small size and inflate to a large one.
    """
    max_bytes = limit("IMPORT_MAX_FILE_BYTES")
    cap = min(max_bytes, budget_left)
    if member.file_size > max_bytes:
        raise ValidationError(errors.FILE_TOO_LARGE.format(size=member.file_size, maximum=max_bytes))
    if member.file_size > budget_left:
        raise ValidationError(errors.ZIP_TOTAL_TOO_LARGE.format(maximum=limit("IMPORT_MAX_ZIP_TOTAL_BYTES")))
    with zf.open(member) as stream:
        data = stream.read(cap + 1)
    if len(data) > cap:
        if cap == max_bytes:
            raise ValidationError(errors.FILE_TOO_LARGE.format(size=f"more than {max_bytes}", maximum=max_bytes))
        raise ValidationError(errors.ZIP_TOTAL_TOO_LARGE.format(maximum=limit("IMPORT_MAX_ZIP_TOTAL_BYTES")))
    return data
