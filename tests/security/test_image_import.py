"""Image import as an attacker uses it: stored XSS, bombs, zip-slip, server folders, oversized files.

Issue 12, defects 6 (stored XSS), 7 (decompression and zip bombs) and 13 (folder import).
"""
import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from ratings_site.catalog import errors
from ratings_site.catalog.models import Image, ImportRun, Source
from ratings_site.catalog.services import images_import_folder, images_import_manifest, images_import_zip
from tests.platform.factories import png_bytes

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><body><script>document.title='pwned'</script></body></html>"


@pytest.fixture
def source():
    return Source.objects.get(slug="stylegan")


def png_polyglot() -> bytes:
    """A valid PNG that also carries an HTML page after its end chunk."""
    return png_bytes(42) + SCRIPT


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A real grayscale PNG of width x height zeros: a few hundred KB that decode to width*height bytes."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


# --- defect 6: stored XSS through import -------------------------------------------------------


def test_png_named_html_is_stored_under_png_suffix(tmp_path, source):
    (tmp_path / "evil.html").write_bytes(png_polyglot())
    outcome = images_import_folder(folder=tmp_path, source=source)
    assert [f.status for f in outcome.files] == ["imported"]
    image = Image.objects.get()
    assert image.file.name.endswith(".png")
    assert image.original_name == "evil.html"  # the name is kept as a label only


def test_stored_polyglot_is_served_as_an_image_with_nosniff_and_csp(client, researcher, tmp_path, source):
    (tmp_path / "evil.html").write_bytes(png_polyglot())
    images_import_folder(folder=tmp_path, source=source)
    client.force_login(researcher)
    response = client.get(Image.objects.get().file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "sandbox" in response["Content-Security-Policy"]


def test_media_that_is_not_an_image_is_a_download_not_a_page(client, researcher, settings):
    # A file left by an older version (or written by hand) under an HTML suffix.
    path = Path(settings.MEDIA_ROOT) / "images" / "old.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SCRIPT)
    client.force_login(researcher)
    response = client.get("/media/images/old.html")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == "attachment"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "name, data",
    [
        ("page.html", SCRIPT),
        ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
    ],
)
def test_anything_that_does_not_decode_as_an_image_is_refused(tmp_path, source, name, data):
    (tmp_path / name).write_bytes(data)
    outcome = images_import_folder(folder=tmp_path, source=source)
    assert outcome.files[0].status == "failed"
    assert Image.objects.count() == 0


def test_decodable_format_outside_the_allowed_list_is_refused(tmp_path, source):
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 32)).save(buffer, format="ICO")
    (tmp_path / "icon.ico").write_bytes(buffer.getvalue())
    outcome = images_import_folder(folder=tmp_path, source=source)
    assert outcome.files[0].status == "failed"
    assert "are not accepted" in outcome.files[0].reason


# --- defect 7: decompression and zip bombs ----------------------------------------------------


def test_400_megapixel_image_in_a_zip_is_reported_and_the_rest_imports(tmp_path, source):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.png", png_bomb(20_000, 20_000))
        zf.writestr("fine.png", png_bytes(1))
    outcome = images_import_zip(archive=archive, source=source)
    by_name = {f.name: f for f in outcome.files}
    assert by_name["fine.png"].status == "imported"
    assert by_name["bomb.png"].status == "failed"
    assert "decompression bomb" in by_name["bomb.png"].reason or "pixels are accepted" in by_name["bomb.png"].reason
    run = ImportRun.objects.get()
    assert (run.imported, run.failed) == (1, 1)


def test_pixel_limit_is_checked_before_decoding(tmp_path, source, settings):
    settings.IMPORT_MAX_PIXELS = 40 * 40
    (tmp_path / "big.png").write_bytes(png_bytes(1, size=64))
    (tmp_path / "small.png").write_bytes(png_bytes(2, size=32))
    outcome = images_import_folder(folder=tmp_path, source=source)
    by_name = {f.name: f for f in outcome.files}
    assert by_name["big.png"].reason == errors.TOO_MANY_PIXELS.format(width=64, height=64, maximum=1600)
    assert by_name["small.png"].status == "imported"


def test_oversized_zip_member_is_refused_without_reading_it_into_memory(tmp_path, source, settings):
    settings.IMPORT_MAX_FILE_BYTES = 5 * 1024 * 1024
    archive = tmp_path / "zipbomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("huge.png", "w", force_zip64=True) as member:
            chunk = b"\x00" * (1 << 20)
            for _ in range(200):  # 200 MB of zeros, a few hundred KB compressed
                member.write(chunk)
        zf.writestr("ok.png", png_bytes(3))
    assert archive.stat().st_size < 2 * 1024 * 1024

    tracemalloc.start()
    try:
        outcome = images_import_zip(archive=archive, source=source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    by_name = {f.name: f for f in outcome.files}
    assert by_name["huge.png"].status == "failed" and "bytes are accepted per image" in by_name["huge.png"].reason
    assert by_name["ok.png"].status == "imported"
    assert peak < 20 * 1024 * 1024, f"import held {peak / 1e6:.0f} MB at its peak"


def test_zip_with_too_many_members_is_refused_whole_and_leaves_no_run(tmp_path, source, settings):
    settings.IMPORT_MAX_ZIP_MEMBERS = 3
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.png", png_bytes(i))
    with pytest.raises(ValidationError, match="at most 3 are accepted"):
        images_import_zip(archive=archive, source=source)
    assert ImportRun.objects.count() == 0 and Image.objects.count() == 0


def test_zip_total_size_limit_reports_the_rest_as_skipped(tmp_path, source, settings):
    one = len(png_bytes(0))
    settings.IMPORT_MAX_ZIP_TOTAL_BYTES = int(one * 2.5)
    archive = tmp_path / "total.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(4):
            zf.writestr(f"{i}.png", png_bytes(i))
    outcome = images_import_zip(archive=archive, source=source)
    assert [f.status for f in outcome.files] == ["imported", "imported", "failed", "failed"]
    assert outcome.files[2].reason.startswith("skipped: the archive's files add up to more than")


def test_a_crash_mid_import_leaves_no_empty_run_row(tmp_path, source, monkeypatch):
    (tmp_path / "a.png").write_bytes(png_bytes(1))

    def broken(**kwargs):
        raise RuntimeError("storage went away")

    monkeypatch.setattr("ratings_site.catalog.services.image_create", broken)
    with pytest.raises(RuntimeError):
        images_import_folder(folder=tmp_path, source=source)
    assert ImportRun.objects.count() == 0


def test_zip_slip_names_never_become_paths(tmp_path, source, settings):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../../../tmp/evil.png", png_bytes(7))
        zf.writestr("/abs/evil2.png", png_bytes(8))
    outcome = images_import_zip(archive=archive, source=source)
    assert [f.status for f in outcome.files] == ["imported", "imported"]
    media = Path(settings.MEDIA_ROOT).resolve()
    for image in Image.objects.all():
        stored = Path(image.file.path).resolve()
        assert stored.is_relative_to(media / "images")
        assert ".." not in image.file.name
    assert not (tmp_path.parent / "evil.png").exists()


# --- defect 13: folder import only from configured roots ----------------------------------------


def test_admin_cannot_import_etc(client, researcher, settings, tmp_path):
    settings.IMAGE_IMPORT_ROOTS = [str(tmp_path / "imports")]
    client.force_login(researcher)
    response = client.post("/admin/catalog/image/import/", {"folder": "/etc", "source": Source.objects.get(slug="progan").pk})
    assert response.status_code == 200
    assert b"is not inside a folder configured for imports" in response.content
    assert b"passwd" not in response.content
    assert ImportRun.objects.count() == 0


def test_admin_cannot_step_out_of_a_root_with_dotdot_or_a_symlink(client, researcher, settings, tmp_path):
    root = tmp_path / "imports"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "a.png").write_bytes(png_bytes(1))
    (root / "ok" / "link").symlink_to("/etc")
    settings.IMAGE_IMPORT_ROOTS = [str(root)]
    client.force_login(researcher)
    progan = Source.objects.get(slug="progan").pk
    response = client.post("/admin/catalog/image/import/", {"folder": f"{root}/../../..", "source": progan})
    assert b"is not inside a folder configured for imports" in response.content
    response = client.post("/admin/catalog/image/import/", {"folder": f"{root}/ok", "source": progan}, follow=True)
    run = ImportRun.objects.get()
    assert run.imported == 1
    assert not any(r["name"].startswith("link/") and r["status"] == "imported" for r in run.report)
    assert all("passwd" not in r["reason"] for r in run.report)


def test_manifest_rows_outside_the_roots_are_refused_before_probing(tmp_path, source):
    root = tmp_path / "imports"
    root.mkdir()
    (root / "a.png").write_bytes(png_bytes(1))
    manifest = root / "m.csv"
    manifest.write_text("path,source\na.png,stylegan\n/etc/passwd,stylegan\n/no/such/file.png,stylegan\n")
    outcome = images_import_manifest(manifest=manifest, roots=[root.resolve()])
    statuses = {f.name: (f.status, f.reason) for f in outcome.files}
    assert statuses["a.png"][0] == "imported"
    assert "not inside a folder configured" in statuses["/etc/passwd"][1]
    # Same message whether or not the file exists: the report cannot be used to probe the disk.
    assert "not inside a folder configured" in statuses["/no/such/file.png"][1]


def test_no_configured_roots_turns_web_folder_import_off(tmp_path, source):
    with pytest.raises(ValidationError, match="server-side imports are off"):
        images_import_folder(folder=tmp_path, source=source, roots=[])


# --- oversized uploads ------------------------------------------------------------------------


def test_oversized_archive_upload_is_refused_with_its_size(client, researcher, settings, tmp_path):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", png_bytes(1, size=64))
    archive.seek(0)
    archive.name = "big.zip"
    client.force_login(researcher)
    response = client.post(
        "/admin/catalog/image/import/", {"archive": archive, "source": Source.objects.get(slug="progan").pk}
    )
    assert b"at most 1000 bytes are accepted" in response.content
    assert ImportRun.objects.count() == 0


def test_oversized_file_in_a_folder_is_reported_not_read(tmp_path, source, settings):
    settings.IMPORT_MAX_FILE_BYTES = 1000
    (tmp_path / "big.png").write_bytes(png_bytes(1, size=64))
    outcome = images_import_folder(folder=tmp_path, source=source)
    assert outcome.files[0].status == "failed" and "bytes are accepted per image" in outcome.files[0].reason


# --- uploads to the model endpoints ------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/quality/score/", "/api/legan/edit/"])
def test_decompression_bomb_uploaded_to_a_model_endpoint_is_a_400(ml_staff, url):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ml_staff)
    bomb = SimpleUploadedFile("face.png", png_bomb(20_000, 20_000), content_type="image/png")
    response = client.post(url, {"image": bomb, "expression": "happy", "lighting": "front"}, format="multipart")
    assert response.status_code == 400, response.content
    assert "decompression bomb" in response.json()["detail"] or "pixels are accepted" in response.json()["detail"]
