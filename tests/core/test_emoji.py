"""The emoji dataset on a tiny fixture of the three packages, laid out as they ship
(never the real sets): labels, 'Component' left out, transparent pixels made white, the
split by emoji with skin tones, the loader, and the download from the publishers' local
stand-in with its sha256 check."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genplay.core import data, datasets, emoji
from genplay.core.errors import DatasetError
from genplay.core.events import Progress, Result

TONES = ("1F3FB", "1F3FD", "1F3FF")
# (unified, category, skin tones): 1F44D's emoji falls in the test split, 1F44B's in train.
EMOJI = [("1F600", "Smileys & Emotion", ()), ("2764-FE0F", "Smileys & Emotion", ()),
         ("1F44B", "People & Body", TONES), ("1F44D", "People & Body", TONES),
         ("1F1E8-1F1E6", "Flags", ()), ("1F3FB", "Component", ())]
RED_HALF = (200, 0, 0, 128)  # the colour of each picture's half-transparent corner


def _png(path: Path, colour: tuple[int, int, int], mode: str = "RGBA", size: int = 64) -> None:
    """A transparent picture with an opaque square of colour and a half-transparent
    corner; mode "P" is a palette picture with a transparent index, as Twemoji's are."""
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = (*colour, 255)
    pixels[:2, -2:] = RED_HALF
    image = Image.fromarray(pixels)
    if mode == "P":
        pixels[:2, -2:] = 0  # a palette picture has no half-transparent pixels
        image = Image.fromarray(pixels[..., :3]).quantize(8)
        index = np.asarray(image)[0, 0]
        image.info["transparency"] = int(index)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _svg(path: Path, colour: str, reach: int = 20) -> None:
    """A square of colour 2 x reach units wide on OpenMoji's 72x72 canvas; a circle
    (that reaches its edges) where reach is 36."""
    shape = (f'<circle cx="36" cy="36" r="36" fill="{colour}"/>' if reach == 36 else
             f'<rect x="{36 - reach}" y="{36 - reach}" width="{2 * reach}" '
             f'height="{2 * reach}" fill="{colour}"/>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<svg id="emoji" viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">'
                    f'{shape}</svg>')


def make_packages(root: Path, versions: tuple[str, str] = ("16.0.0", "17.0.0")) -> Path:
    """twitter/, google/ and openmoji/ as genplay's shared data holds them: the files of
    each npm package that the dataset needs, in the package's own layout."""
    rows = []
    for i, (code, category, tones) in enumerate(EMOJI):
        row = {"name": f"EMOJI {i}", "unified": code, "image": f"{code.lower()}.png",
               "short_name": f"emoji_{i}", "category": category, "has_img_twitter": True,
               "has_img_google": True, "skin_variations": {
                   t: {"unified": f"{code}-{t}", "image": f"{code.lower()}-{t.lower()}.png",
                       "has_img_twitter": True, "has_img_google": True} for t in tones}}
        rows.append(row)
    for style, mode in (("twitter", "P"), ("google", "RGBA")):
        folder = root / style
        folder.mkdir(parents=True)
        (folder / "emoji.json").write_text(json.dumps(rows))
        (folder / "package.json").write_text(json.dumps({
            "name": f"emoji-datasource-{style}", "version": versions[0]}))
        for i, row in enumerate(rows):
            for image in [row["image"]] + [v["image"] for v in row["skin_variations"].values()]:
                _png(folder / "img" / style / "64" / image, (0, 40 * i, 200), mode)
    folder = root / "openmoji"
    (folder / "data").mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "openmoji", "version": versions[1]}))
    lines = ["emoji,hexcode,group,subgroups,annotation,skintone_base_hexcode"]
    for i, (code, category, tones) in enumerate(EMOJI):
        group = category.lower().replace(" & ", "-")
        for hexcode in [code] + [f"{code}-{t}" for t in tones]:
            lines.append(f"x,{hexcode},{group},sub,{code} name,{code if tones else ''}")
            # a square of its own size for each emoji: no two emoji are drawn alike
            _svg(folder / "color" / "svg" / f"{hexcode}.svg", "#FCEA2B", reach=20 - 2 * i)
    lines.append("x,E000,extras-openmoji,brand,an OpenMoji extra,")
    _svg(folder / "color" / "svg" / "E000.svg", "#FCEA2B")
    lines.append("x,1F9D1-200D-1F4BB,people-body,job,technologist,")  # reaches the edges
    _svg(folder / "color" / "svg" / "1F9D1-200D-1F4BB.svg", "#00FF00", reach=36)
    (folder / "data" / "openmoji.csv").write_text("\n".join(lines) + "\n")
    return root


def pack(root: Path, out: Path) -> dict[str, bytes]:
    """Each package as npm packs it (package/...), by its file name: the tarballs."""
    out.mkdir(parents=True, exist_ok=True)
    tarballs = {}
    for spec in emoji.PACKAGES:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(root / spec.style, arcname="package")
        (out / spec.file).write_bytes(buffer.getvalue())
        tarballs[spec.file] = buffer.getvalue()
    return tarballs


def _result(events):
    result = None
    for event in events:
        if isinstance(event, Result):
            result = event
    return result


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    return make_packages(tmp_path_factory.mktemp("emoji-packages"))


@pytest.fixture(scope="module")
def built(packages) -> emoji.Built:
    return _result(emoji.build(emoji.find_packages(packages))).value


def test_labels_by_category_and_style_without_components_or_extras(built):
    # 6 emoji, 2 of them with 3 skin tones: 12 pictures a style, less the Component swatch,
    # in each of the 3 styles; OpenMoji's technologist is its own, its extra is none.
    assert len(built.images) == 3 * 11 + 1 and not built.skipped
    names = dict(zip(built.keys, built.names))
    assert "1F3FB" not in names and "E000" not in names
    assert names["1F600"] == "emoji 0"  # emoji-datasource's short name, in words
    for style in range(3):
        mine = built.style == style
        cats = [emoji.CATEGORIES[c] for c in built.category[mine]]
        assert cats.count("People & Body") == 8 + (style == 2) and cats.count("Flags") == 1
    assert list(emoji.CATEGORIES) == datasets.CATALOGUE["emoji"].class_names
    assert len(emoji.CATEGORIES) == 9 and "Component" not in emoji.CATEGORIES


def test_transparent_pixels_become_white(built):
    twitter, google, openmoji = (built.images[built.style == s] for s in range(3))
    for images in (twitter, google, openmoji):
        assert images.shape[1:] == (3, 64, 64)
        assert (images[:, :, 0, 0] == 255).all()  # a transparent corner is white
    assert tuple(twitter[0, :, 32, 32]) == (0, 0, 200)  # a palette PNG, as Twemoji's are
    assert tuple(google[0, :, 32, 32]) == (0, 0, 200)
    # half-transparent red on white: halfway to white
    assert tuple(google[0, :, 0, 63]) == tuple(emoji.on_white(np.array([[RED_HALF]],
                                                                       np.uint8))[0, 0])
    assert tuple(google[0, :, 0, 63]) == (227, 127, 127)
    # OpenMoji: its 64 frame of the 72 canvas (the yellow square keeps its 40 units
    # = 40 pixels), and a drawing that fills the canvas is shrunk into the picture whole
    square = (openmoji[0].transpose(1, 2, 0) != 255).any(axis=2)
    assert square.sum() == 40 * 40 and tuple(openmoji[0, :, 32, 32]) == (0xFC, 0xEA, 0x2B)
    whole = openmoji[built.emoji[built.style == 2] == built.keys.index("1F9D1-200D-1F4BB")][0]
    green = (whole[0] < 100) & (whole[1] > 200) & (whole[2] < 100)
    assert green[32, 2] and green[32, 61] and green[2, 32] and green[61, 32]


def test_the_split_is_by_emoji_with_all_its_skin_tones_and_styles(built):
    assert emoji.emoji_key("1F44B-1F3FD") == "1F44B" == emoji.emoji_key("1f44b")
    assert emoji.emoji_key("2764-FE0F") == "2764"
    assert (emoji.emoji_key("1F9D1-1F3FB-200D-1F91D-200D-1F9D1-1F3FF")
            == "1F9D1-200D-1F91D-200D-1F9D1")
    assert emoji.split_of("1F44D") == "test" and emoji.split_of("1F44B") == "train"
    sides = built.split()
    thumbs = built.emoji == built.keys.index("1F44D")
    assert thumbs.sum() == 3 * 4 and set(sides[thumbs]) == {"test"}  # 4 tones x 3 styles
    assert sorted(emoji.TONES[t] for t in built.tone[thumbs & (built.style == 0)]) == [
        "dark", "light", "medium", "none"]
    for key in range(len(built.keys)):
        assert len(set(sides[built.emoji == key])) == 1


def test_an_emoji_drawn_like_a_training_one_trains_with_all_its_pictures():
    """Two code points drawn alike (a gendered and a neutral form): the test emoji whose
    picture is a training picture's twin moves to train with its other pictures, and so
    does a test emoji that is a twin of a moved one; a near neighbour does not move."""
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (4, 3, 16, 16), dtype=np.uint8)
    twin = pictures[0].astype(np.int16)
    twin[:, 0, :3] += np.array([2, -2, 1], np.int16)[:, None]  # anti-aliasing noise
    near = pictures[0].astype(np.int16) + 12  # about 0.05 RMS apart: another emoji
    images = np.stack([pictures[0], pictures[1],  # emoji 0 (train)
                       np.clip(twin, 0, 255).astype(np.uint8), pictures[2],  # emoji 1
                       pictures[2], pictures[3],  # emoji 2: a twin of emoji 1's second
                       np.clip(near, 0, 255).astype(np.uint8)])  # emoji 3
    keys = np.array([0, 0, 1, 1, 2, 2, 3])
    sides = np.array(["train", "train", "test", "test", "test", "test", "test"])
    moved_sides, moved = emoji.twins_to_train(images, keys, sides)
    assert moved == [1, 2]
    assert moved_sides.tolist() == ["train"] * 6 + ["test"]
    assert emoji.twins_to_train(images, keys, sides, rms=0.0)[1] == []  # the noise counts


def test_a_copy_built_with_the_first_split_asks_to_be_built_again(packages, no_datasets):
    _result(datasets.import_copy("emoji", packages))
    about = no_datasets / "emoji" / emoji.ABOUT_FILE
    fields = json.loads(about.read_text())
    assert fields["split_version"] == emoji.SPLIT_VERSION and fields["twins_moved"] == []
    del fields["split_version"]  # as the first genplay to build it wrote it
    about.write_text(json.dumps(fields))
    status = datasets.verify("emoji")
    assert "split version 1" in status.problem and "--force" in status.problem
    with pytest.raises(DatasetError, match="split version 1.*--force replaces them"):
        _result(datasets.import_copy("emoji", packages))
    _result(datasets.import_copy("emoji", packages, force=True))
    assert datasets.verify("emoji").problem is None


def test_import_and_load_for_training(packages, no_datasets):
    result = _result(datasets.import_copy("emoji", packages))
    assert result.value == no_datasets / "emoji" and not result.summary["skipped"]
    assert result.summary["counts"] == (21, 13) and result.summary["published"]
    train = data.load_dataset("emoji", "train", size=64, channels=3)
    test = data.load_dataset("emoji", "test", size=32, channels=3)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (3, 64, 64)
    assert test.images.shape == (13, 3, 32, 32)
    assert train.class_names == list(emoji.CATEGORIES) and train.labels.dtype == torch.int64
    assert train.extra_names["style"] == list(emoji.STYLES)
    part = train.subset(torch.tensor([0, 5]))
    assert part.extra_labels["style"].tolist() == train.extra_labels["style"][[0, 5]].tolist()
    keys = {name: {part.extra_names["emoji"][i] for i in d.extra_labels["emoji"].tolist()}
            for name, d in (("train", train), ("test", test))}
    assert keys["test"] == {"1F44D", "1F9D1-200D-1F4BB"} and not keys["train"] & keys["test"]
    assert data.invert_policy("emoji") is False  # dark on white is not inverted
    status = datasets.verify("emoji")
    assert status.counts == (21, 13) and status.published and status.problem is None
    # a folder of the built files loads too, also where only the name is known
    assert len(data.load_idx(no_datasets / "emoji", "train", "emoji")) == 21
    assert len(data.load_dataset(no_datasets / "emoji", "test", size=64, channels=3)) == 13


def test_a_folder_without_a_package_names_it(tmp_path, packages):
    partial = tmp_path / "partial"
    partial.mkdir()
    for style in ("twitter", "google"):
        (partial / style).symlink_to(packages / style)
    with pytest.raises(DatasetError, match="no openmoji in it"):
        emoji.find_packages(partial)


def test_without_the_svg_renderer_is_one_line_that_says_how(packages, no_datasets,
                                                            monkeypatch):
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # as if not installed
    with pytest.raises(DatasetError) as caught:
        _result(datasets.import_copy("emoji", packages))
    assert "pip install 'genplay[emoji]'" in str(caught.value)
    assert "\n" not in str(caught.value) and not (no_datasets / "emoji").exists()


def publish(packages: Path, folder: Path, monkeypatch):
    """Serves the packages as tarballs at their npm paths from a local server, in the
    catalogue's place (their sha256s are theirs); the tarballs are also in folder.
    Returns the running server (shut it down after)."""
    from tests.served_data import DataServer

    tarballs = pack(packages, folder)
    spec = datasets.CATALOGUE["emoji"]
    files = tuple(dataclasses.replace(f, size=len(tarballs[f.name]),
                                      sha256=hashlib.sha256(tarballs[f.name]).hexdigest())
                  for f in spec.files)
    monkeypatch.setitem(datasets.CATALOGUE, "emoji", dataclasses.replace(spec, files=files))
    server = DataServer({f.url_path: tarballs[f.name] for f in files})
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


@pytest.fixture
def publishers(packages, tmp_path, monkeypatch, no_datasets):
    """The three tiny packages' publishers (publish()); yields (server, tarball folder)."""
    server = publish(packages, tmp_path / "tarballs", monkeypatch)
    yield server, tmp_path / "tarballs"
    server.shutdown()
    server.server_close()


def test_download_checks_sha256_resumes_and_builds(publishers, no_datasets):
    server, _ = publishers
    with pytest.raises(DatasetError, match="wrong checksum"):
        _result(datasets.download("emoji", sources=[server.url + "/bad/"]))
    assert datasets.locate("emoji") is None
    events = list(datasets.download("emoji", sources=[server.url + "/drop/"], retry_wait=0))
    result = events[-1]
    assert result.value == no_datasets / "emoji" and result.summary["counts"] == (21, 13)
    paths = {p for p, _ in server.requests}
    assert paths >= {f"/drop/{f.url_path}" for f in datasets.CATALOGUE["emoji"].files}
    assert [r for _, r in server.requests if r]  # the dropped ones resumed with a range
    rendering = [e for e in events if isinstance(e, Progress) and e.total == 34]
    assert rendering[-1].step == 34
    assert not (no_datasets / ".emoji.download").exists()
    assert len(data.load_dataset("emoji", "train", size=64, channels=3)) == 21


def test_tarballs_that_are_not_the_published_ones_are_built_and_said_so(publishers,
                                                                         no_datasets):
    _, tarballs = publishers
    result = _result(datasets.import_copy("emoji", tarballs))
    assert result.summary["counts"] == (21, 13) and not result.summary["published"]
    with pytest.raises(DatasetError, match="--force replaces them"):
        _result(datasets.import_copy("emoji", tarballs))
