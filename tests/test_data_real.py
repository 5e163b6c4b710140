"""The loader on rows of the real Kaggle files, and on the ways real files go wrong.

The folders under ``tests/fixtures/data/real/`` hold real rows where public
repositories commit them, and rows written in the real files' format where
none could be found (``tests/fixtures/data/real/README.md`` says which is
which). Every cleaning count below was worked out by hand from those rows.
"""
from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import DataFormatError, load
from course_utils.data.load import last_two_tied_share, tie_key
from course_utils.data.read import read_table

REAL = Path(__file__).parent / "fixtures" / "data" / "real"

# rows read, kept, and the report's (removed, fixed) per rule
MAL_REMOVED = {"repeated_anime_id": 0, "repeated_username": 0, "invalid_status_code": 1,
               "unknown_user": 1, "user_not_in_cleaned_list": 1, "unknown_anime": 2,
               "status_not_1_or_2": 2, "missing_last_updated": 1, "duplicate_rows": 1,
               "episodes_beyond_length": 0, "last_online_1900": 0, "html_entities": 0}
MAL_FIXED = {"episodes_beyond_length": 1, "last_online_1900": 1, "html_entities": 1}


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(REAL / name, target)
    return target


def _load(source: str, folder: Path, **kw):
    return load(source, data_dir=folder, cache=False, **kw)


def _report(ds) -> tuple[dict, dict]:
    r = ds.report.set_index("rule")
    return r["rows_removed"].to_dict(), r["rows_fixed"][r["rows_fixed"] > 0].to_dict()


def test_raw_kaggle_files_with_exact_counts():
    ds = _load("kaggle", REAL / "kaggle")
    removed, fixed = _report(ds)
    assert removed == MAL_REMOVED and fixed == MAL_FIXED
    assert ds.meta["rows_read"] == 19 and len(ds.interactions) == 10
    assert (ds.n_users, ds.n_items) == (3, 10)


def test_cleaned_list_file_with_floats_and_date_text():
    """animelists_cleaned.csv: my_rewatching as 0.0/1.0/empty, my_last_updated as text."""
    ds = _load("kaggle", REAL / "kaggle_cleaned")
    removed, fixed = _report(ds)
    # no users_cleaned filter (the user file is users_cleaned.csv itself), so reader_d is unknown
    assert removed == {**MAL_REMOVED, "unknown_user": 2, "user_not_in_cleaned_list": 0}
    assert fixed == MAL_FIXED
    raw = _load("kaggle", REAL / "kaggle")
    cols = ["user", "item", "rating", "timestamp", "status", "watched_episodes", "rewatching"]
    pd.testing.assert_frame_equal(ds.interactions[cols], raw.interactions[cols])
    rewatched = ds.interactions.loc[ds.interactions["rewatching"] == 1, "item"]
    assert ds.anime.loc[rewatched, "anime_id"].tolist() == [11123]


def test_real_anime_rows_and_html_entities():
    ds = _load("kaggle", REAL / "kaggle")
    row = ds.anime.set_index("anime_id").loc[11123]
    assert row["title_english"] == "Sekai Ichi Hatsukoi - World's Greatest First Love 2"
    titles = read_table(REAL / "kaggle" / "AnimeList.csv", ("anime_id", "title"))["title"]
    assert "Yume-iro Pâtissière" in set(titles)  # UTF-8 read as such
    raw = pd.read_csv(REAL / "kaggle" / "AnimeList.csv")  # the file itself is untouched
    assert "&#039;" in raw.set_index("anime_id").loc[11123, "title_english"]


def test_cooper_rows_with_exact_counts():
    ds = _load("kaggle_cooper", REAL / "cooper")
    removed, fixed = _report(ds)
    assert removed == {"repeated_anime_id": 0, "unknown_anime": 2, "duplicate_rows": 1,
                       "html_entities": 0, "rating_minus_one": 0}
    assert fixed == {"html_entities": 2, "rating_minus_one": 3}
    assert ds.meta["rows_read"] == 16 and len(ds.interactions) == 13
    titles = set(ds.anime["title"])
    assert {"Gintama'", "Gintama': Enchousen"} <= titles and not any("&#" in t for t in titles)


@pytest.mark.parametrize("name", ["kaggle", "kaggle_cleaned"])
def test_crlf_line_ends_load_the_same(name, tmp_path):
    folder = _copy(name, tmp_path)
    for p in folder.glob("*.csv"):
        p.write_bytes(p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    a, b = _load("kaggle", folder), _load("kaggle", REAL / name)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    assert a.anime["title"].tolist() == b.anime["title"].tolist()


def test_both_time_forms_and_whole_floats_in_one_file(tmp_path):
    folder = _copy("kaggle", tmp_path)
    lists = folder / "UserAnimeList.csv"
    lines = lists.read_text().splitlines()
    assert lines[3].endswith(",1362310000,") and lines[5].startswith("karthiga,4814,12,")
    lines[3] = lines[3].replace(",1362310000,", ",2013-03-03 11:26:40,")  # the same second
    lines[5] = lines[5].replace("karthiga,4814,12,", "karthiga,4814.0,12.0,")
    lists.write_text("\n".join(lines) + "\n")
    pd.testing.assert_frame_equal(_load("kaggle", folder).interactions,
                                  _load("kaggle", REAL / "kaggle").interactions)


@pytest.mark.parametrize("value, message", [("7.5", "my_score is not an integer: 7.5"),
                                            ("seven", "my_score is not an integer: 'seven'")])
def test_a_score_that_is_not_whole_names_the_line(value, message, tmp_path):
    folder = _copy("kaggle_cleaned", tmp_path)
    lists = folder / "animelists_cleaned.csv"
    lines = lists.read_text().splitlines()
    assert lines[6].startswith("karthiga,11123,12,2013-03-12,2013-03-20,8,")
    lines[6] = lines[6].replace(",2013-03-20,8,", f",2013-03-20,{value},")
    lists.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        _load("kaggle", folder)
    err = info.value
    assert (Path(err.file).name, err.line, err.column) == ("animelists_cleaned.csv", 7, "my_score")
    assert message in str(err)


def test_a_time_in_neither_form_names_the_line(tmp_path):
    folder = _copy("kaggle", tmp_path)
    lists = folder / "UserAnimeList.csv"
    lines = lists.read_text().splitlines()
    lines[8] = lines[8].replace(",1400000100,", ",03/03/2013,")
    lists.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="neither Unix seconds nor a date-time") as info:
        _load("kaggle", folder)
    assert (info.value.line, info.value.column) == (9, "my_last_updated")


def test_a_byte_that_is_not_utf8_names_the_line_and_the_fix(tmp_path):
    folder = _copy("kaggle", tmp_path)
    anime = folder / "AnimeList.csv"
    data = anime.read_bytes()
    assert "Pâtissière".encode() in data
    anime.write_bytes(data.replace("Yume-iro Pâtissière,".encode(), b"Yume-iro P\xe2tissi\xe8re,", 1))
    with pytest.raises(DataFormatError) as info:
        _load("kaggle", folder)
    err = info.value
    assert Path(err.file).name == "AnimeList.csv" and err.line == 7  # the header is line 1
    assert "not UTF-8" in str(err) and "iconv -f latin1 -t utf-8" in str(err)


def test_a_byte_that_is_not_utf8_in_the_list_file(tmp_path):
    folder = _copy("kaggle", tmp_path)
    lists = folder / "UserAnimeList.csv"
    line = b"reader_b,721,38,0000-00-00,0000-00-00,10,2,0,0,1400000200,favourite"
    assert lists.read_bytes().count(line) == 1
    lists.write_bytes(lists.read_bytes().replace(line, line.replace(b"reader_b", b"r\xe9ader_b")))
    with pytest.raises(DataFormatError, match=r"UserAnimeList\.csv, line 10: the file is not UTF-8"):
        _load("kaggle", folder)


@pytest.mark.parametrize("kind", ["gzip", "zip"])
@pytest.mark.parametrize("name, source", [("AnimeList.csv", "kaggle"), ("UserAnimeList.csv", "kaggle"),
                                          ("rating.csv", "kaggle_cooper")])
def test_a_compressed_file_under_a_csv_name(kind, name, source, tmp_path):
    folder = _copy("kaggle" if source == "kaggle" else "cooper", tmp_path)
    path = folder / name
    text = path.read_bytes()
    if kind == "gzip":
        path.write_bytes(gzip.compress(text))
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(name, text)
    with pytest.raises(DataFormatError) as info:
        _load(source, folder)
    err = info.value
    assert Path(err.file).name == name and f"{kind}-compressed" in str(err)
    assert ("gunzip" if kind == "gzip" else "unzip") in err.fix


def test_nul_bytes_are_a_data_format_error(tmp_path):
    folder = _copy("cooper", tmp_path)
    rating = folder / "rating.csv"
    rating.write_bytes(rating.read_bytes().replace(b"3,164,8\r\n", b"3,164,\x00\x00\r\n"))
    with pytest.raises(DataFormatError) as info:
        _load("kaggle_cooper", folder)
    assert (Path(info.value.file).name, info.value.line, info.value.column) == ("rating.csv", 13, "rating")


def test_ties_follow_a_seeded_random_key_not_the_anime_id(tmp_path):
    # one user, 40 entries updated in the same second: the order is the tie-break's alone
    folder = _copy("kaggle", tmp_path)
    ids = pd.read_csv(folder / "AnimeList.csv")["anime_id"].tolist()
    rows = [f"reader_b,{a},1,0000-00-00,0000-00-00,7,2,0,0,1400000000," for a in ids]
    (folder / "UserAnimeList.csv").write_text(
        (REAL / "kaggle" / "UserAnimeList.csv").read_text().splitlines()[0] + "\n" + "\n".join(rows) + "\n")
    orders = {seed: _load("kaggle", folder, seed=seed).interactions["item"].tolist()
              for seed in (1, 2)}
    again = _load("kaggle", folder, seed=1).interactions["item"].tolist()
    assert orders[1] == again  # reproducible
    assert orders[1] != orders[2]  # and the seed matters
    assert orders[1] != sorted(orders[1])  # not by item id (= anime id order)
    assert sorted(orders[1]) == list(range(len(ids)))
    ds = _load("kaggle", folder, seed=1)
    assert ds.meta["last_two_tied_share"] == 1.0


def test_tie_share_of_the_real_rows():
    # karthiga's last two entries (4814 and 11123) share 1362500000; reader_b's and reader_c's do not
    assert _load("kaggle", REAL / "kaggle").meta["last_two_tied_share"] == pytest.approx(1 / 3)


def test_tie_key_is_a_permutation_of_ties_not_of_items():
    users = np.repeat(np.arange(200), 2)
    items = np.tile([10, 11], 200)
    key = tie_key(users, items, seed=42)
    first_is_10 = key[0::2] < key[1::2]
    assert 0.35 < first_is_10.mean() < 0.65  # each user's tie goes either way
    frame = pd.DataFrame({"user": [0, 0, 1], "timestamp": pd.to_datetime(["2013"] * 3)})
    assert last_two_tied_share(frame) == 1.0  # a user with one entry does not count


def test_course_run_data_dir_requires_a_real_source(tmp_path):
    from course_tools.cli import main

    assert main(["run", "01", "--profile", "ci", "--data-dir", str(tmp_path)]) == 2


def test_the_list_reader_holds_one_block_not_the_file(tmp_path):
    """pyarrow's own streaming reader parsed the whole file ahead; the loader must not."""
    import pyarrow as pa

    from course_utils.data import read, schema

    header = (REAL / "kaggle" / "UserAnimeList.csv").read_text().splitlines()[0]
    line = "reader_b,2104,26,0000-00-00,0000-00-00,7,2,0,0,1400000000,"
    path = tmp_path / "UserAnimeList.csv"
    path.write_text(header + "\n" + "\n".join([line] * 200_000) + "\n")  # about 12 MB
    block = 1 << 18
    before = pa.total_allocated_bytes()
    batches = read.iter_lists(path, schema.LIST_NEEDED, schema.LIST_OPTIONAL, block_size=block)
    first_line, batch = next(batches)
    held = pa.total_allocated_bytes() - before
    assert first_line == 2 and 0 < batch.num_rows <= block // len(line) + 1
    assert held < 8 * block  # a few blocks' worth, while the file is about 48 blocks
    assert sum(b.num_rows for _, b in batches) + batch.num_rows == 200_000


def test_a_relative_data_dir_is_kept_as_an_absolute_path(tmp_path, monkeypatch):
    """Chapters run from notebooks/, so the paths in ds.meta must not depend on the cwd."""
    shutil.copytree(Path(__file__).parent / "fixtures" / "data" / "real" / "cooper",
                    tmp_path / "cooper")
    monkeypatch.chdir(tmp_path)
    ds = load("kaggle_cooper", data_dir="cooper", cache_dir=tmp_path / "cache")
    monkeypatch.chdir("/")
    again = load("kaggle_cooper", data_dir=tmp_path / "cooper", cache_dir=tmp_path / "cache")
    for meta in (ds.meta, again.meta):
        assert Path(meta["files"]["lists"]).is_absolute()
        assert Path(meta["files"]["lists"]).exists()
