"""Preparing the site's real images, and hostile ones made here, for each platform's limits."""

from __future__ import annotations

import io
import random
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from bot.config import ImageConfig
from bot.errors import ImageError
from bot.images import ImageCache, cut_alt, prepare
from bot.model import Limits, Media

UPLOADS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "civictech" / "_uploads"
FIXTURES = sorted(UPLOADS.glob("*"))

MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23, image_bytes=16 * 1024 * 1024,
                  image_pixels=33_177_600, image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
                  alt_chars=1500)
X = Limits("x", 280, "twitter", url_weight=23, image_bytes=5 * 1024 * 1024,
           image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}), alt_chars=1000)
BLUESKY_1MB = Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=1_000_000,
                     image_formats=frozenset({"JPEG", "PNG"}), alt_chars=2000)
BLUESKY_2MB = Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=2_000_000,
                     image_formats=frozenset({"JPEG", "PNG"}), alt_chars=2000)
X_WITH_GIF_LIMITS = Limits("x", 280, "twitter", url_weight=23, image_bytes=5_000_000,
                           image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
                           alt_chars=1000, animation_size=(1280, 1080), animation_frames=350)
PLATFORMS = {"mastodon": MASTODON, "x": X, "bluesky-1mb": BLUESKY_1MB, "bluesky-2mb": BLUESKY_2MB}
CONFIG = ImageConfig()
METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "photoshop", "comment")


def opened(media: Media) -> Image.Image:
    im = Image.open(io.BytesIO(media.data))
    im.load()
    return im


def assert_ready(media: Media, limits: Limits, config: ImageConfig = CONFIG) -> Image.Image:
    """Open the prepared bytes and check them against everything the platform and config demand."""
    im = opened(media)
    assert len(media.data) <= limits.image_bytes
    assert im.format in limits.image_formats
    assert media.mime == Image.MIME[im.format]
    assert (im.width, im.height) == (media.width, media.height)
    assert max(im.size) <= config.max_edge
    if limits.image_pixels:
        assert im.width * im.height <= limits.image_pixels
    assert im.mode in ("L", "P", "RGB", "RGBA")
    if im.format == "PNG":
        assert media.data[24] <= 8  # IHDR bit depth
    assert not im.getexif()
    assert not [key for key in METADATA_KEYS if key in im.info]
    return im


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, depth: int, colour_type: int, idat: bytes,
              extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """Write a PNG by hand (Pillow cannot write 16-bit colour): `idat` is the compressed rows."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + b"".join(chunk(kind, body) for kind, body in extra)
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def with_text_chunk(png: bytes) -> bytes:
    """Insert a tEXt chunk right after IHDR (which always ends at byte 33)."""
    return png[:33] + chunk(b"tEXt", b"Comment\x00taken at home") + png[33:]


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Random pixels: the worst case for every encoder, the same on every run."""
    return Image.frombytes(mode, size, random.Random(7).randbytes(size[0] * size[1] * len(mode)))


def test_the_shared_fixtures_hold_the_eight_real_images():
    assert len(FIXTURES) == 8


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("source", FIXTURES, ids=lambda path: path.name)
def test_every_real_image_comes_out_ready_for_every_platform(source, platform):
    limits = PLATFORMS[platform]
    media = prepare(source, limits, CONFIG, alt="Bild till evenemanget")
    im = assert_ready(media, limits)
    assert media.alt == "Bild till evenemanget"
    assert media.filename == source.stem + {"JPEG": ".jpg", "PNG": ".png"}[im.format]


@pytest.mark.parametrize("name", ["cryptoparty-logo.png", "debian-cake-meetup-6.jpeg",
                                  "climate_data_background.png",
                                  "1782px-kopplingssprint-se-svg.png"])
def test_an_image_that_fits_and_has_no_metadata_goes_out_byte_for_byte(name):
    source = UPLOADS / name
    for limits in PLATFORMS.values():
        media = prepare(source, limits, CONFIG, alt="")
        assert media.data == source.read_bytes()
        assert (media.width, media.height) == Image.open(source).size


@pytest.mark.parametrize("name", ["civic-tech-moter-govtech-fb.jpg", "good-tech-hack.jpg",
                                  "govtechday_facebook_linkedin_2.jpg"])
def test_an_image_carrying_metadata_is_re_encoded_without_it(name):
    source = UPLOADS / name
    media = prepare(source, MASTODON, CONFIG, alt="")
    assert media.data != source.read_bytes()
    im = assert_ready(media, MASTODON)
    width, height = Image.open(source).size
    assert im.size == (min(width, 2048), round(height * min(width, 2048) / width))


def test_the_large_photo_is_scaled_to_the_longest_edge_and_fits_an_old_bluesky_server():
    media = prepare(UPLOADS / "bg_hemsidan.jpg", BLUESKY_1MB, CONFIG, alt="")
    im = assert_ready(media, BLUESKY_1MB)
    assert im.format == "JPEG"
    assert im.size == (2048, 1149)


def test_a_smaller_max_edge_in_the_config_shrinks_the_image_to_it():
    config = ImageConfig(max_edge=512)
    media = prepare(UPLOADS / "bg_hemsidan.jpg", X, config, alt="")
    assert max(assert_ready(media, X, config).size) == 512


def test_a_photo_with_gps_and_orientation_6_comes_out_upright_without_exif(tmp_path):
    stored = Image.new("RGB", (400, 200), "blue")
    stored.paste((255, 0, 0), (0, 0, 200, 200))  # red on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Herald Test Camera"
    exif[0x8825] = {1: "N", 2: (59.0, 19.0, 30.0), 3: "E", 4: (18.0, 4.0, 5.0)}
    source = tmp_path / "phone.jpg"
    stored.save(source, "JPEG", exif=exif.tobytes(), quality=95)
    assert Image.open(source).getexif().get_ifd(0x8825)  # the source really carries GPS

    media = prepare(source, MASTODON, CONFIG, alt="")

    im = assert_ready(media, MASTODON)
    assert im.size == (200, 400)  # turned a quarter clockwise: the left edge is now the top
    top, bottom = im.convert("RGB").getpixel((100, 20)), im.convert("RGB").getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
    assert b"Exif" not in media.data and b"Herald Test Camera" not in media.data


def test_a_cmyk_jpeg_comes_out_as_8_bit_rgb(tmp_path):
    source = tmp_path / "print.jpg"
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(source, "JPEG", quality=95)
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    im = assert_ready(media, BLUESKY_1MB)
    assert im.mode == "RGB"
    red, green, blue = im.getpixel((150, 100))
    assert red > 200 and green < 60 and blue < 60


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped(tmp_path):
    ramp = b"".join(struct.pack("<H", x * 257) for x in range(256)) * 16
    source = tmp_path / "scan.png"
    Image.frombytes("I;16", (256, 16), ramp).save(source)
    assert source.read_bytes()[24] == 16
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    im = assert_ready(media, BLUESKY_1MB).convert("RGB")
    for x in (0, 64, 128, 255):
        assert all(abs(value - x) <= 2 for value in im.getpixel((x, 8)))


def test_a_16_bit_rgba_png_comes_out_as_8_bit_rgba_keeping_its_transparency(tmp_path):
    opaque_red = struct.pack(">HHHH", 65535, 0, 0, 65535)
    clear = struct.pack(">HHHH", 0, 0, 0, 0)
    row = b"\x00" + opaque_red * 32 + clear * 32
    source = tmp_path / "badge.png"
    source.write_bytes(png_bytes(64, 32, 16, 6, zlib.compress(row * 32)))
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    im = assert_ready(media, BLUESKY_1MB)
    assert (im.format, im.mode, media.data[24]) == ("PNG", "RGBA", 8)
    assert im.getpixel((10, 10)) == (255, 0, 0, 255)
    assert im.getpixel((50, 10))[3] == 0


def test_a_png_with_a_text_chunk_loses_only_that_chunk_and_keeps_its_own_bytes(tmp_path):
    original = (UPLOADS / "cryptoparty-logo.png").read_bytes()
    source = tmp_path / "cryptoparty.png"
    source.write_bytes(with_text_chunk(original))
    media = prepare(source, X, CONFIG, alt="")
    assert media.data == original  # the palette, transparency and compressed pixels untouched
    assert media.note == "as is, metadata removed"
    assert_ready(media, X)


def test_an_icc_profile_is_applied_and_dropped(tmp_path):
    source = tmp_path / "tagged.jpg"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (120, 80), (10, 120, 200)).save(source, "JPEG", icc_profile=srgb)
    im = assert_ready(prepare(source, X, CONFIG, alt=""), X)
    pixel = im.convert("RGB").getpixel((60, 40))
    assert all(abs(a - b) <= 4 for a, b in zip(pixel, (10, 120, 200)))


def test_a_large_transparent_photo_becomes_a_jpeg_flattened_on_the_background(tmp_path):
    photo = noise((1000, 750), "RGBA")
    photo.putalpha(Image.new("L", photo.size, 255))
    photo.paste((0, 0, 0, 0), (0, 0, 250, 750))
    source = tmp_path / "cutout.png"
    photo.save(source)
    config = ImageConfig(background="#00ff00")
    media = prepare(source, BLUESKY_1MB, config, alt="")
    im = assert_ready(media, BLUESKY_1MB, config)
    assert im.format == "JPEG"
    red, green, blue = im.getpixel((100, 375))
    assert green > 230 and red < 30 and blue < 30


def test_an_image_too_big_even_at_the_lowest_quality_is_scaled_down_until_it_fits(tmp_path):
    source = tmp_path / "grain.png"
    noise((1200, 800)).save(source)
    tight = Limits("tight", 300, "graphemes", image_bytes=150_000,
                   image_formats=frozenset({"JPEG", "PNG"}))
    media = prepare(source, tight, CONFIG, alt="")
    im = assert_ready(media, tight)
    assert im.format == "JPEG"
    assert im.width < 1200 and abs(im.width / im.height - 1.5) < 0.01
    assert len(media.data) > tight.image_bytes // 2  # the budget is used, not thrown away


def test_the_pixel_limit_is_kept_with_the_aspect_ratio(tmp_path):
    source = tmp_path / "wide.jpg"
    noise((1600, 1200)).save(source, quality=80)
    small = Limits("small", 500, "mastodon", image_bytes=16_000_000, image_pixels=1_000_000,
                   image_formats=frozenset({"JPEG"}))
    im = assert_ready(prepare(source, small, CONFIG, alt=""), small)
    assert im.width * im.height <= 1_000_000
    assert abs(im.width / im.height - 4 / 3) < 0.01


def animated_gif(path: Path, size=(120, 80), colours=("red", "lime", "blue")) -> Path:
    frames = [Image.new("RGB", size, colour) for colour in colours]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0,
                   comment=b"made at home")
    assert Image.open(path).n_frames == len(colours)
    return path


@pytest.mark.parametrize("limits", [MASTODON, X_WITH_GIF_LIMITS], ids=["mastodon", "x"])
def test_an_animated_gif_stays_animated_where_the_platform_takes_gifs(tmp_path, limits):
    source = animated_gif(tmp_path / "party.gif")
    media = prepare(source, limits, CONFIG, alt="")
    im = assert_ready(media, limits)
    assert (im.format, im.n_frames, media.mime) == ("GIF", 3, "image/gif")
    assert b"made at home" not in media.data and "comment" not in im.info
    assert im.info.get("loop") == 0 and im.info.get("duration") == 200
    assert media.note == "animated GIF, 3 frames, as is, metadata removed"


def test_an_animated_gif_becomes_a_still_of_its_first_frame_where_gifs_are_not_taken(tmp_path):
    source = animated_gif(tmp_path / "party.gif")
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    im = assert_ready(media, BLUESKY_1MB)
    assert im.format != "GIF" and getattr(im, "n_frames", 1) == 1
    assert im.convert("RGB").getpixel((60, 40)) == (255, 0, 0)
    assert "animated GIF flattened to its first frame (bluesky takes no GIF)" in media.note


@pytest.mark.parametrize("size, colours, words", [
    ((1400, 100), ("red", "blue"), "1400x100, over the 1280x1080 x takes for animated GIFs"),
    ((16, 16), ("red", "blue") * 200, "400 frames, over the 350 x takes"),
])
def test_an_animated_gif_beyond_xs_animation_limits_is_flattened_and_says_why(
        tmp_path, size, colours, words):
    source = animated_gif(tmp_path / "long.gif", size, colours)
    media = prepare(source, X_WITH_GIF_LIMITS, CONFIG, alt="")
    assert getattr(opened(media), "n_frames", 1) == 1
    assert words in media.note


def test_a_png_named_jpg_is_read_by_its_content(tmp_path):
    source = tmp_path / "logo.jpg"
    shutil.copy(UPLOADS / "cryptoparty-logo.png", source)
    media = prepare(source, BLUESKY_2MB, CONFIG, alt="")
    assert (media.mime, media.filename) == ("image/png", "logo.png")
    assert media.data == source.read_bytes()


def broken_files(tmp_path: Path) -> dict[str, Path]:
    jpeg = io.BytesIO()
    noise((640, 480)).save(jpeg, "JPEG", quality=90)
    jpeg_bytes = jpeg.getvalue()
    png = io.BytesIO()
    noise((320, 240)).save(png, "PNG")
    png_bytes_ = png.getvalue()
    sprinkled = bytearray(jpeg_bytes)
    for position in range(3000, len(sprinkled) - 2, 97):
        sprinkled[position] ^= 0xFF
    files = {
        "corrupt.jpg": bytes(sprinkled),
        "truncated.jpg": jpeg_bytes[: len(jpeg_bytes) // 2],
        "truncated.png": png_bytes_[: len(png_bytes_) // 2],
        "notes.jpg": "Det här är ingen bild, bara text.\n".encode(),
        "empty.png": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files} | {"missing.jpg": tmp_path / "missing.jpg"}


@pytest.mark.parametrize("name, words", [
    ("corrupt.jpg", "corrupt"), ("truncated.jpg", "truncated"), ("truncated.png", "truncated"),
    ("notes.jpg", "not an image"), ("empty.png", "empty"), ("missing.jpg", "not found"),
])
def test_a_bad_file_raises_one_line_image_error_naming_it(tmp_path, name, words):
    source = broken_files(tmp_path)[name]
    with pytest.raises(ImageError) as caught:
        prepare(source, BLUESKY_1MB, CONFIG, alt="")
    message = str(caught.value)
    assert message.startswith(str(source)) and words in message and "\n" not in message


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    compressor = zlib.compressobj(9)
    rows = b"".join(compressor.compress(bytes(12_001)) for _ in range(10_000)) + compressor.flush()
    source = tmp_path / "bomb.png"  # 120 megapixels of zeros in about 120 kB
    source.write_bytes(png_bytes(12_000, 10_000, 8, 0, rows))
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError) as caught:
        prepare(source, MASTODON, CONFIG, alt="")
    assert "12000x10000" in str(caught.value) and "decompression bomb" in str(caught.value)
    assert Image.MAX_IMAGE_PIXELS == before


def test_a_bomb_beyond_pillows_own_limit_is_an_image_error_too(tmp_path):
    source = tmp_path / "huge.png"
    source.write_bytes(png_bytes(30_000, 30_000, 8, 0, zlib.compress(bytes(30_001))))
    with pytest.raises(ImageError) as caught:
        prepare(source, MASTODON, CONFIG, alt="")
    assert str(source) in str(caught.value) and "decompression bomb" in str(caught.value)


@pytest.mark.parametrize("text, limit, expected", [
    ("Folk på en scen", 100, "Folk på en scen"),
    ("Folk på en scen i Stockholm", 14, "Folk på en…"),
    ("Folk på en scen i Stockholm", 11, "Folk på en…"),
    ("Folk på en scen i Stockholm", 10, "Folk på…"),
    ("Remissvarsworkshop", 8, "Remissv…"),
    ("  mellanslag runt  ", 100, "mellanslag runt"),
])
def test_alt_text_is_cut_at_a_word_boundary(text, limit, expected):
    assert cut_alt(text, limit) == expected
    assert len(cut_alt(text, limit)) <= limit


def test_prepare_cuts_the_alt_text_to_the_platforms_limit():
    short = Limits("short", 300, "graphemes", image_bytes=2_000_000, alt_chars=30)
    alt = "Ett rum fullt av människor som skriver remissvar tillsammans"
    media = prepare(UPLOADS / "cryptoparty-logo.png", short, CONFIG, alt=alt)
    assert media.alt == "Ett rum fullt av människor…"


def test_the_cache_serves_the_same_bytes_without_preparing_again(tmp_path):
    cache = ImageCache(tmp_path / "cache")
    first = prepare(UPLOADS / "bg_hemsidan.jpg", BLUESKY_1MB, CONFIG, alt="a", cache=cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".jpg", ".json"]

    again = ImageCache(tmp_path / "cache")  # a later run
    second = prepare(UPLOADS / "bg_hemsidan.jpg", BLUESKY_1MB, CONFIG, alt="b", cache=again)
    assert (again.hits, again.misses) == (1, 0)
    assert second.data == first.data and second.alt == "b"


def test_the_cache_keeps_one_entry_per_set_of_limits(tmp_path):
    cache = ImageCache(tmp_path)
    for limits in (BLUESKY_1MB, BLUESKY_2MB, BLUESKY_1MB):
        prepare(UPLOADS / "good-tech-hack.jpg", limits, CONFIG, alt="", cache=cache)
    assert (cache.hits, cache.misses) == (1, 2)
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_a_damaged_cache_entry_is_prepared_again_and_replaced(tmp_path):
    cache = ImageCache(tmp_path)
    good = prepare(UPLOADS / "good-tech-hack.jpg", X, CONFIG, alt="", cache=cache)
    [stored] = tmp_path.glob("*.jpg")
    stored.write_bytes(b"not the image")
    again = prepare(UPLOADS / "good-tech-hack.jpg", X, CONFIG, alt="", cache=cache)
    assert again.data == good.data and stored.read_bytes() == good.data
    assert cache.hits == 0


def test_an_unwritable_cache_does_not_stop_the_image(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be")
    cache = ImageCache(blocked)
    media = prepare(UPLOADS / "good-tech-hack.jpg", X, CONFIG, alt="", cache=cache)
    assert_ready(media, X)
    assert len(cache.errors) == 1 and str(blocked) in cache.errors[0]


def test_a_black_and_white_photo_goes_out_as_jpeg_not_as_a_huge_png(tmp_path):
    from PIL import ImageFilter

    photo = Image.effect_noise((3000, 2000), 60).filter(ImageFilter.GaussianBlur(1))
    source = tmp_path / "grey.jpg"
    photo.convert("RGB").save(source, "JPEG", quality=95)
    media = prepare(source, MASTODON, ImageConfig(), alt="Svartvitt foto")
    assert media.mime == "image/jpeg"
    with Image.open(io.BytesIO(media.data)) as out:
        assert out.format == "JPEG" and max(out.size) == 2048


# --- metadata removed without decoding ------------------------------------------------------

def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """List the (marker, payload) of every segment before the first scan."""
    segments, pos = [], 2
    while data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        segments.append((data[pos + 1], data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return segments


def test_a_jpeg_that_fits_keeps_its_coded_pixels_and_loses_only_its_metadata():
    source = UPLOADS / "civic-tech-moter-govtech-fb.jpg"   # 100,233 bytes with EXIF and XMP
    original = source.read_bytes()
    for limits in PLATFORMS.values():
        media = prepare(source, limits, CONFIG, alt="")
        assert len(media.data) < len(original)  # never bigger, as re-encoding made it
        assert media.note == "as is, metadata removed"
        assert [marker for marker, _ in jpeg_segments(media.data)
                if 0xE1 <= marker <= 0xEF or marker == 0xFE] == []
        scan = original.index(b"\xff\xda")
        assert media.data.endswith(original[scan:])  # every coded byte as it was
        with Image.open(source) as before, Image.open(io.BytesIO(media.data)) as after:
            assert before.tobytes() == after.tobytes()
        assert_ready(media, limits)


def test_a_jpeg_with_gps_comment_and_a_trailer_keeps_none_of_them(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Herald Test Camera"
    exif[0x8825] = {1: "N", 2: (59.0, 19.0, 30.0), 3: "E", 4: (18.0, 4.0, 5.0)}
    source = tmp_path / "phone.jpg"
    noise((300, 200)).save(source, "JPEG", exif=exif.tobytes(), comment=b"kitchen table",
                           quality=90)
    source.write_bytes(source.read_bytes() + b"appended motion-photo video")
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    for secret in (b"Herald Test Camera", b"kitchen table", b"motion-photo", b"Exif"):
        assert secret not in media.data
    assert media.data.endswith(b"\xff\xd9") and media.note == "as is, metadata removed"
    with Image.open(source) as before, Image.open(io.BytesIO(media.data)) as after:
        assert before.tobytes() == after.tobytes()


def test_a_jpeg_with_a_jfif_thumbnail_keeps_jfif_without_the_thumbnail(tmp_path):
    plain = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(plain, "JPEG")
    data = plain.getvalue()
    thumb = bytes(3 * 2 * 2)
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x02\x02" + thumb
    jfif_end = 4 + int.from_bytes(data[4:6], "big")
    source = tmp_path / "thumb.jpg"
    source.write_bytes(b"\xff\xd8\xff\xe0" + (len(app0) + 2).to_bytes(2, "big") + app0
                       + data[jfif_end:])
    media = prepare(source, X, CONFIG, alt="")
    assert (0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00") in jpeg_segments(media.data)


def test_a_png_loses_its_text_time_and_exif_chunks_and_keeps_its_pixel_chunks(tmp_path):
    original = (UPLOADS / "climate_data_background.png").read_bytes()
    exif = Image.Exif()
    exif[0x010F] = "Herald Test Camera"
    source = tmp_path / "chart.png"
    source.write_bytes(original[:33] + chunk(b"tIME", bytes(7)) + chunk(b"eXIf", exif.tobytes())
                       + chunk(b"iTXt", b"Author\x00\x00\x00\x00\x00Ada") + original[33:])
    media = prepare(source, BLUESKY_1MB, CONFIG, alt="")
    assert media.data == original


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_jpeg_that_fits_but_is_stored_turned_is_re_encoded_upright_at_its_own_quality(
        tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / "turned.jpg"
    photo = noise((320, 240))
    photo.save(source, "JPEG", exif=exif.tobytes(), quality=75)
    media = prepare(source, MASTODON, CONFIG, alt="")
    im = assert_ready(media, MASTODON)
    assert im.size == ((240, 320) if orientation in (6, 8) else (320, 240))
    assert f"turned upright (EXIF orientation {orientation})" in media.note
    assert "quality 75" in media.note
    assert len(media.data) < 1.1 * source.stat().st_size  # not re-encoded above its quality


def test_a_jpeg_with_a_wide_gamut_profile_is_converted_to_srgb_and_an_srgb_profile_is_dropped(
        tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged_srgb = tmp_path / "srgb.jpg"
    Image.new("RGB", (120, 80), (10, 120, 200)).save(tagged_srgb, "JPEG", icc_profile=srgb)
    media = prepare(tagged_srgb, X, CONFIG, alt="")
    assert media.note == "as is, metadata removed" and b"\xff\xe2" not in media.data[:200]
    tagged_other = tmp_path / "display.jpg"  # the real "Display" profile of bg_hemsidan.jpg
    with Image.open(UPLOADS / "bg_hemsidan.jpg") as real:
        display = real.info["icc_profile"]
    Image.new("RGB", (120, 80), (10, 120, 200)).save(tagged_other, "JPEG", icc_profile=display)
    media = prepare(tagged_other, X, CONFIG, alt="")
    assert "colours converted to sRGB" in media.note
    assert "icc_profile" not in opened(media).info


# --- files that are not regular files ------------------------------------------------------

def test_post_with_a_fifo_as_image_stops_at_once_with_one_clear_line(tmp_path, monkeypatch):
    import os
    import threading

    from click.testing import CliRunner

    from bot.cli import main

    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    fifo = tmp_path / "image.jpg"
    os.mkfifo(fifo)
    config = Path(__file__).resolve().parents[1] / "config.example.toml"
    done = threading.Event()
    result = {}

    def run():
        result["r"] = CliRunner().invoke(main, ["post", "Hej", "--config", str(config),
                                                "--image", str(fifo), "--alt", "Bild",
                                                "--dry-run"])
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(10):
        with open(fifo, "wb"):  # release the reader so the test process can end
            pass
        pytest.fail("herald post --image waited on a FIFO")
    output = result["r"].output
    assert result["r"].exit_code == 1
    assert output.strip().splitlines() == [
        f"Error: {fifo}: is a FIFO (named pipe), not a regular file; Herald reads images only "
        f"from regular files"]


def test_an_image_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    from bot.images import read_source

    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(ImageError, match="huge.jpg: image file is 315 MB, over the 210 MB"):
        read_source(huge)
    with pytest.raises(ImageError, match="is a character device, not a regular file"):
        read_source(Path("/dev/zero"))


def test_a_png_with_an_exif_orientation_is_turned_upright_and_one_without_passes_as_is(tmp_path):
    stored = Image.new("RGB", (400, 200), "blue")
    stored.paste((255, 0, 0), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "turned.png"
    stored.save(turned, exif=exif.tobytes())
    media = prepare(turned, MASTODON, CONFIG, alt="")
    assert opened(media).size == (200, 400) and "EXIF orientation 6" in media.note
    exif[0x0112] = 1
    upright = tmp_path / "upright.png"
    stored.save(upright, exif=exif.tobytes())
    assert prepare(upright, MASTODON, CONFIG, alt="").note == "as is, metadata removed"
