"""Bad input gets a clear DataFormatError naming the file, line or column, and the fix.

Each test copies the hand-made Kaggle-format sample into a temporary folder,
breaks one thing, and checks the message; the raw files are never modified.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from course_utils.data import DataFilesMissingError, DataFormatError, NoTimestampsError, load, sequences

SAMPLE = Path(__file__).parent / "fixtures" / "data" / "kaggle_sample"
COOPER = Path(__file__).parent / "fixtures" / "data" / "cooper_sample"


@pytest.fixture
def sample(tmp_path) -> Path:
    folder = tmp_path / "kaggle"
    shutil.copytree(SAMPLE, folder)
    return folder


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _load(folder: Path, tmp_path: Path):
    return load("kaggle", data_dir=folder, cache_dir=tmp_path / "cache")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_missing_folder_explains_how_to_get_the_data(tmp_path):
    with pytest.raises(DataFilesMissingError) as info:
        load("kaggle", data_dir=tmp_path / "nowhere", cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "kaggle datasets download -d azathoth42/myanimelist" in msg
    assert "UserAnimeList.csv" in msg and "nowhere" in msg
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_missing_list_file_is_named(sample, tmp_path):
    (sample / "UserAnimeList.csv").unlink()
    with pytest.raises(DataFilesMissingError, match=r"UserAnimeList\.csv.*not found"):
        _load(sample, tmp_path)


def test_missing_cooper_files(tmp_path):
    with pytest.raises(DataFilesMissingError,
                       match="kaggle datasets download -d CooperUnion/anime-recommendations-database"):
        load("kaggle_cooper", data_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_malformed_line_gives_line_number(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[4] = "karthiga,20,120,0000-00-00,0,1,,0,2013-04-01 12:00:00\n"  # line 5: 9 fields
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _load(sample, tmp_path)
    err = info.value
    assert err.line == 5 and err.file.endswith("UserAnimeList.csv")
    assert "malformed line: 9 fields instead of 11" in str(err) and "line 5" in str(err)


def test_non_numeric_score(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[5] = lines[5].replace(",4,4,", ",abc,4,")  # line 6: karthiga, anime 30
    assert ",abc," in lines[5]
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _load(sample, tmp_path)
    err = info.value
    assert (err.line, err.column) == (6, "my_score")
    assert "'abc'" in str(err) and "not an integer" in str(err)


def test_score_out_of_range(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[1] = lines[1].replace(",9,2,", ",11,2,")
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 2, column my_score: my_score 11 is outside 0–10"):
        _load(sample, tmp_path)


def test_unknown_status_code(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[2] = lines[2].replace(",8,2,", ",8,7,")  # line 3: karthiga, anime 5
    assert ",8,7," in lines[2]
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _load(sample, tmp_path)
    err = info.value
    assert (err.line, err.column) == (3, "my_status")
    assert "unknown status code 7" in str(err) and "2 Completed" in str(err)


def test_empty_file(sample, tmp_path):
    (sample / "UserAnimeList.csv").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"UserAnimeList\.csv, line 1: the file is empty"):
        _load(sample, tmp_path)


def test_header_only(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    path.write_text(_lines(path)[0], encoding="utf-8")
    with pytest.raises(DataFormatError, match="header but no data rows"):
        _load(sample, tmp_path)


def test_truncated_file(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # cut in the middle of the last line
    with pytest.raises(DataFormatError, match="looks truncated") as info:
        _load(sample, tmp_path)
    assert "get the file again" in str(info.value)


def test_truncated_inside_a_quoted_value(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + 'bskai,6,26,0000-00-00,0000-00-00,8,2,0,0,2012-05-01 12:00:00,"half a ta',
                    encoding="utf-8")
    with pytest.raises(DataFormatError, match="looks truncated"):
        _load(sample, tmp_path)


def test_unclosed_quote_in_the_middle(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[1] = lines[1].rstrip("\n") + '"oops\n'  # line 2: tags field opens a quote
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _load(sample, tmp_path)
    assert info.value.line == 2


@pytest.mark.parametrize("old, new", [("my_score", "myscore"), ("username", "user")])
def test_renamed_column_is_named(sample, tmp_path, old, new):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines[0] = lines[0].replace(old, new)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _load(sample, tmp_path)
    msg = str(info.value)
    assert "UserAnimeList.csv" in msg and f"missing column '{old}'" in msg
    assert f"found '{new}'" in msg
    assert info.value.column == old


def test_missing_anime_column(sample, tmp_path):
    path = sample / "AnimeList.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(",genre,", ",genres_x,", 1), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"AnimeList\.csv.*missing column 'genre'"):
        _load(sample, tmp_path)


def test_non_numeric_anime_id(sample, tmp_path):
    path = sample / "AnimeList.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n6,Trigun,", "\nsix,Trigun,"), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"AnimeList\.csv, column anime_id: data row 3: anime_id is not a number: 'six'"):
        _load(sample, tmp_path)


def test_extra_columns_are_fine(sample, tmp_path):
    path = sample / "UserAnimeList.csv"
    lines = _lines(path)
    lines = [lines[0].rstrip("\n") + ",extra\n"] + [ln.rstrip("\n") + ",x\n" for ln in lines[1:]]
    path.write_text("".join(lines), encoding="utf-8")
    assert len(_load(sample, tmp_path).interactions) == 18


def test_raw_files_are_never_modified(sample, tmp_path):
    before = _digests(sample)
    _load(sample, tmp_path)
    _load(sample, tmp_path)  # from the cache
    assert _digests(sample) == before
    lines = _lines(sample / "UserAnimeList.csv")
    lines[2] = lines[2].replace(",8,2,", ",8,7,")
    (sample / "UserAnimeList.csv").write_text("".join(lines), encoding="utf-8")
    broken = _digests(sample)
    with pytest.raises(DataFormatError):
        _load(sample, tmp_path)
    assert _digests(sample) == broken  # an error loses nothing either


def test_an_error_leaves_no_cache_behind(sample, tmp_path):
    (sample / "UserAnimeList.csv").write_bytes(b"")
    with pytest.raises(DataFormatError):
        _load(sample, tmp_path)
    left = [p.name for p in (tmp_path / "cache").glob("data/*") if not p.name.endswith(".lock")]
    assert left == []


def test_cooper_has_no_watch_order(tmp_path):
    ds = load("kaggle_cooper", data_dir=COOPER, cache_dir=tmp_path / "cache")
    with pytest.raises(NoTimestampsError) as info:
        sequences(ds)
    assert "no timestamps" in str(info.value) and "'synthetic' or 'kaggle'" in str(info.value)
